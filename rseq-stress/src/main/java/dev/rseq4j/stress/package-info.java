/** jcstress tests and torture runs; the jcstress set-up arrives with the counter issue. */
package dev.rseq4j.stress;
