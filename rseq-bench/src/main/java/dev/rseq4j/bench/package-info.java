/** JMH benchmarks, ours beside the peer in one run; the JMH set-up arrives with the counter issue. */
package dev.rseq4j.bench;
