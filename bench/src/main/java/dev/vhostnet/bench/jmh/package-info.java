/**
 * JMH microbenchmarks of the emulated path's hot pieces: descriptor chain pop/push
 * ({@link dev.vhostnet.bench.jmh.DeviceQueueBench}), GPA to HVA translation
 * ({@link dev.vhostnet.bench.jmh.TranslateBench}) and virtio-net header handling
 * ({@link dev.vhostnet.bench.jmh.HeaderBench}). Run them with
 * {@code java -cp "bench/target/classes:bench/target/lib/*" org.openjdk.jmh.Main} after
 * {@code mvn -pl bench -am package -DskipTests}.
 */
package dev.vhostnet.bench.jmh;
