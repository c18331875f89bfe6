package dev.rseq4j.collections;

import dev.rseq4j.core.Rseq;

import java.io.RandomAccessFile;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * Run in a fresh JVM by {@link TruncatedMappedFileTest}: maps a file read-only, truncates it under the
 * mapping, and hands a slice of the mapping that is now past the file's end to
 * {@link PerCpuRecordRingBuffer#write(int, MemorySegment)}. Before native code stopped reading callers'
 * segments, this killed the JVM with SIGBUS inside the memcpy stub. Prints one line
 * {@code TRUNCATED mode=... thrown=... afterwards=... lost=...}; any other end (a crash) has no such line.
 */
final class TruncatedMappedFileProbe {
    public static void main(String[] args) throws Exception {
        Path file = Files.createTempFile("rseq4j-truncated", ".bin");
        try (Arena arena = Arena.ofShared()) {
            Files.write(file, new byte[16384], StandardOpenOption.WRITE);
            MemorySegment mapped;
            try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
                mapped = channel.map(FileChannel.MapMode.READ_ONLY, 0, 16384, arena);
            }
            PerCpuRecordRingBuffer ring = new PerCpuRecordRingBuffer(4096);
            ring.write(1, new byte[] {1, 2, 3, 4}, 0, 4);                   // one record before the fault
            try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
                raf.setLength(0);
            }
            String thrown = "nothing";
            for (int i = 0; i < 100; i++) {     // many times: on the stub's path and, after aborts, the slow one
                try {
                    ring.write(2, mapped.asSlice(8192, 64));
                    thrown = "nothing";
                    break;
                } catch (InternalError expected) {
                    thrown = expected.getClass().getSimpleName();
                }
            }
            boolean afterwards = ring.write(3, new byte[] {5, 6, 7, 8}, 0, 4);
            List<String> records = new ArrayList<>();
            ring.read((typeId, payload) -> records.add(typeId + ":" + payload.get(ValueLayout.JAVA_BYTE, 0)));
            // NOTE: as a set: the two writes land on different rings if the thread migrated in between,
            // and order holds per CPU only
            boolean exact = records.stream().sorted().toList().equals(List.of("1:1", "3:5"));
            System.out.println("TRUNCATED mode=" + Rseq.status().mode() + " thrown=" + thrown + " afterwards="
                    + afterwards + " records=" + records + " lost=" + (exact ? 0 : 1) + " size=" + ring.size());
        } finally {
            Files.deleteIfExists(file);
        }
    }
}
