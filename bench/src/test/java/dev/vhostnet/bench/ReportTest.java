package dev.vhostnet.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

class ReportTest {
    static Rep rep(long packets, long nanos, long devCpu) {
        return new Rep(packets, packets * 64, packets, nanos, devCpu, 0, devCpu, 0, 0, 0, 0);
    }

    static BenchReport report() {
        Cell kernel = new Cell(
                BenchPath.KERNEL,
                Direction.TX,
                64,
                1,
                List.of(
                        rep(300, 1_000_000_000L, 300_000),
                        rep(100, 1_000_000_000L, 100_000),
                        rep(200, 1_000_000_000L, 200_000)),
                null);
        Cell emulated =
                new Cell(BenchPath.EMULATED, Direction.TX, 64, 1, List.of(rep(100, 1_000_000_000L, 400_000)), null);
        Cell raw = new Cell(BenchPath.RAW_JAVA, Direction.TX, 64, 1, List.of(rep(400, 1_000_000_000L, 0)), null);
        Cell skipped = Cell.skipped(BenchPath.RAW_C, Direction.RX, 65536, 1, "a \"reason\"\nwith a newline");
        return new BenchReport(
                "test machine", Instant.EPOCH, "config", List.of(kernel, emulated, raw, skipped), List.of("a note"));
    }

    @Test
    void aCellQuotesTheMedianOfItsRepetitionsAndTheirSpread() {
        Cell kernel = report().cells().get(0);
        assertEquals(200, kernel.packetsPerSecond(), 1e-9);
        assertEquals(1.0, kernel.spread(), 1e-9, "(300 - 100) / 200");
        assertEquals(1000, kernel.deviceCpuPerPacket(), 1e-9);
    }

    @Test
    void ratiosCompareTheSameCellOnTwoPaths() {
        BenchReport r = report();
        Cell emulated = r.cells().get(1);
        assertEquals(2.0, r.kernelOverEmulatedRate(emulated).orElseThrow(), 1e-9);
        assertEquals(4.0, r.emulatedOverKernelDeviceCpu(emulated).orElseThrow(), 1e-9);
        assertEquals(0.25, r.fractionOf(BenchPath.RAW_JAVA, emulated).orElseThrow(), 1e-9);
        assertTrue(r.fractionOf(BenchPath.RAW_C, emulated).isEmpty(), "the C ceiling did not run");
    }

    @Test
    void dpdksDriverOnVhostNetShowsItsVhostWorkersCpuAsTheDevices() {
        Cell dpdk = new Cell(
                BenchPath.KERNEL_VIRTIO_USER, Direction.TX, 64, 1, List.of(rep(1000, 1_000_000_000L, 3_000_000)), null);
        String md = ReportWriter.markdown(
                new BenchReport("test machine", Instant.EPOCH, "config", List.of(dpdk), List.of()));
        assertTrue(
                md.contains("| DPDK virtio-user on vhost-net | TX | 64 | 1 | 1,000 | 0% | 0.001 |  |  | 3000 |"), md);
    }

    @Test
    void percentilesAreNearestRank() {
        long[] samples = {5, 1, 4, 2, 3, 6, 7, 8, 9, 10};
        assertEquals(5, Cell.percentile(samples, 10, 0.5));
        assertEquals(10, Cell.percentile(samples, 10, 0.99));
        assertEquals(0, Cell.percentile(samples, 0, 0.5));
    }

    @Test
    void theWritersNameEveryPathAndEscapeWhatJsonMust() throws Exception {
        BenchReport r = report();
        String md = ReportWriter.markdown(r);
        assertTrue(md.contains("| kernel | TX | 64 | 1 | 200 |"), md);
        assertTrue(md.contains("Kernel / emulated"), md);
        JsonNode json = new ObjectMapper().readTree(ReportWriter.json(r));
        assertEquals(
                "a \"reason\"\nwith a newline",
                json.get("cells").get(3).get("skipped").asText());
        assertEquals(2.0, json.get("cells").get(1).get("kernelOverEmulated").asDouble(), 1e-9);
        assertEquals(
                300, json.get("cells").get(0).get("reps").get(0).get("packets").asLong());
        assertEquals("a note", json.get("notes").get(0).asText());
        String svg = ReportWriter.svg(r);
        assertTrue(
                svg.startsWith("<svg")
                        && svg.contains("raw tap (Java)")
                        && svg.trim().endsWith("</svg>"),
                svg);
    }

    @Test
    void aConfigRejectsWhatCannotBeMeasured() {
        assertThrows(
                IllegalArgumentException.class,
                () -> BenchConfig.builder().sizes(List.of(40)).build());
        assertThrows(
                IllegalArgumentException.class,
                () -> BenchConfig.builder().pairs(List.of(0)).build());
        assertThrows(
                IllegalArgumentException.class,
                () -> BenchConfig.builder().repetitions(0).build());
        IllegalArgumentException vhostUser = assertThrows(
                IllegalArgumentException.class,
                () -> BenchConfig.builder().backends(List.of(dev.vhostnet.ctl.BackendChoice.Kind.VHOST_USER)));
        assertTrue(vhostUser.getMessage().contains("the kernel and the emulated backend"), vhostUser.getMessage());
        assertEquals(
                java.util.Set.of(
                        dev.vhostnet.ctl.BackendChoice.Kind.KERNEL, dev.vhostnet.ctl.BackendChoice.Kind.EMULATED),
                BenchConfig.builder().build().backends(),
                "both by default");
        assertEquals(128, BenchConfig.builder().build().window(64));
        assertEquals(3, BenchConfig.builder().build().window(65536));
    }

    @Test
    void theVhostUserBackEndsHaveASectionOfTheirOwnWithTheirRatio() throws Exception {
        // vhostnet: 300 pkt/s at 2,000 ns/pkt of back-end CPU; DPDK: 600 pkt/s at 1,000 ns/pkt.
        Cell vhostnet = new Cell(
                BenchPath.VHOST_USER,
                Direction.TX,
                64,
                1,
                List.of(rep(300, 1_000_000_000L, 600_000), rep(200, 1_000_000_000L, 400_000)),
                null);
        Cell dpdk = new Cell(
                BenchPath.VHOST_USER_DPDK, Direction.TX, 64, 1, List.of(rep(600, 1_000_000_000L, 600_000)), null);
        List<Cell> cells = new java.util.ArrayList<>(report().cells());
        cells.add(vhostnet);
        cells.add(dpdk);
        BenchReport r = new BenchReport("test machine", Instant.EPOCH, "config", cells, List.of());
        assertEquals(250.0 / 600, r.vhostnetOverDpdkRate(vhostnet).orElseThrow(), 1e-9);
        assertEquals(2.0, r.vhostnetOverDpdkCpu(vhostnet).orElseThrow(), 1e-9);
        String md = ReportWriter.markdown(r);
        assertTrue(md.contains("| 64 | vhost-user: vhostnet | 250 | 200–300 | 40% | 0.000 | 2000 | 0 | 2 |"), md);
        assertTrue(md.contains("| 64 | vhost-user: DPDK | 600 | 600–600 | 0% |"), md);
        assertTrue(md.contains("| 64 | 0.42 | 2.00 | missed |"), md);
        assertTrue(!md.contains("| vhost-user: vhostnet | TX |"), "not in the table of this process's paths: " + md);
        JsonNode json = new ObjectMapper().readTree(ReportWriter.json(r));
        JsonNode peer = json.get("cells").get(4);
        assertEquals("VHOST_USER", peer.get("path").asText());
        assertEquals(250.0 / 600, peer.get("vhostnetOverDpdk").asDouble(), 1e-9);
        assertEquals(2.0, peer.get("vhostnetOverDpdkCpuPerPacket").asDouble(), 1e-9);
        assertEquals(
                List.of(BenchPath.VHOST_USER, BenchPath.VHOST_USER_DPDK),
                ReportReader.parse(ReportWriter.json(r)).cells().stream()
                        .map(Cell::path)
                        .filter(BenchPath::isVhostUserPeer)
                        .toList(),
                "read back for --baseline");
    }

    @Test
    void txCountsAtTheSinkAndLeavesThePeersOutUnlessAsked() {
        BenchConfig config = BenchConfig.builder().build();
        assertEquals(TxCount.SINK, config.txCount());
        assertTrue(!config.vhostUserPeers());
        BenchConfig asked =
                BenchConfig.builder().txCount(TxCount.TAP).vhostUserPeers(true).build();
        assertTrue(
                asked.toString().contains("TX counted at the tap")
                        && asked.toString().contains("vhost-user peers"),
                asked.toString());
    }

    @Test
    void aWindowWritesOffWhatTheFarEndNeverCounts() throws Exception {
        Window w = new Window(4);
        assertEquals(4, w.room(0, 0));
        assertEquals(0, w.room(4, 0));
        assertEquals(2, w.room(4, 2));
        Thread.sleep(Window.STALL_MILLIS + 50);
        w.room(6, 2);
        Thread.sleep(Window.STALL_MILLIS + 50);
        assertEquals(4, w.room(6, 2), "stalled: the 4 in flight are written off");
    }
}
