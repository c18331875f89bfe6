/**
 * Command-line tools on top of everything else: {@code Diagnostics} (the launcher's
 * {@code diagnose}) and the {@code SelfTest} it runs (every operation once, then a torture run
 * that counts lost updates). The top layer: nothing depends on it.
 */
package dev.rseq4j.core.tools;
