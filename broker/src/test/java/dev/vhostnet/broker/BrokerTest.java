package dev.vhostnet.broker;

import static dev.vhostnet.broker.BrokerFixture.eventually;
import static dev.vhostnet.broker.BrokerFixture.exchange;
import static dev.vhostnet.broker.BrokerFixture.linkExists;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vhostnet.ctl.kernel.VhostNet;
import dev.vhostnet.sys.Fd;
import dev.vhostnet.sys.OpenFds;
import dev.vhostnet.tap.Command;
import dev.vhostnet.tap.NetInterface;
import dev.vhostnet.tap.Offload;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

/** The broker in this (root) process, with clients in this process: the policy sees uid 0. */
class BrokerTest {
    private Path dir;
    private Path socket;
    private Broker broker;
    private String prefix;
    private final List<String> persistentToDelete = new ArrayList<>();

    @BeforeEach
    void start() throws Exception {
        BrokerFixture.assumeTaps();
        dir = BrokerFixture.socketDirectory();
        socket = dir.resolve("broker.sock");
        prefix = "vb" + BrokerFixture.random() + "-";
        broker = startBroker(BrokerPolicy.builder()
                .allowUid(0)
                .tapPrefix(0, prefix)
                .maxQueues(4)
                .allowPersistent(true)
                .build());
    }

    private Broker startBroker(BrokerPolicy policy) throws Exception {
        return Broker.builder(socket, policy)
                .readTimeout(Duration.ofMillis(700))
                .stateDirectory(dir.resolve("state"))
                .start();
    }

    @AfterEach
    void stop() throws Exception {
        if (broker != null) {
            broker.close();
        }
        for (String name : persistentToDelete) {
            Command.exec(List.of("ip", "link", "delete", name));
        }
        BrokerFixture.deleteTree(dir);
    }

    private BrokerRequest.Builder request(String suffix) {
        return BrokerRequest.builder().name(prefix + suffix);
    }

    @Test
    void handsOutWorkingTapFdsAndDeletesTheTapWhenTheClientLeaves() throws Exception {
        String name;
        try (BrokeredTap tap = BrokerClient.openTap(
                socket,
                request("%d")
                        .queues(2)
                        .vnetHeader(12)
                        .offloads(Offload.CSUM, Offload.TSO4)
                        .up(true)
                        .mtu(1400)
                        .build())) {
            name = tap.name();
            assertTrue(name.startsWith(prefix), name);
            assertEquals(2, tap.queueFds().size());
            assertEquals(0, tap.vhostFds().size());
            assertTrue(tap.offloads().contains(Offload.CSUM));
            for (Fd fd : tap.queueFds()) {
                assertEquals(
                        "/dev/net/tun",
                        Files.readSymbolicLink(Path.of("/proc/self/fd/" + fd.get()))
                                .toString());
                assertTrue(fd.isCloseOnExec(), "received fd without FD_CLOEXEC: a forked helper would inherit the tap");
            }
            try (NetInterface link = NetInterface.open(name)) {
                assertEquals(1400, link.mtu());
                assertTrue(link.isUp());
            }
            assertEquals(Set.of(name), broker.leasedTaps());
            // the received fds are the tap's queues: writing a frame through one succeeds
            com.sun.jna.Memory frame = new com.sun.jna.Memory(12 + 60);
            frame.clear();
            assertEquals(72, tap.queueFd(0).write(frame, 72));
        }
        assertTrue(eventually(() -> !linkExists(name)), name + " still exists after the client left");
        assertTrue(eventually(() -> broker.leasedTaps().isEmpty()));
    }

    /** Tagged so the test VM runs it too: there vhost-net exists and the fds are checked. */
    @Test
    @Tag("vhost-net")
    void vhostNetFdsOrTheReasonThereAreNone() throws Exception {
        BrokerRequest wanted = request("v").queues(2).vhostFds(2).vnetHeader(12).build();
        if (Files.exists(VhostNet.DEVICE)) {
            try (BrokeredTap tap = BrokerClient.openTap(socket, wanted)) {
                assertEquals(2, tap.vhostFds().size());
                VhostNet vhost = VhostNet.adopt(tap.vhostFds().get(0));
                vhost.setOwner();
                assertTrue(vhost.getFeatures() != 0);
            }
        } else {
            BrokerException e = assertThrows(BrokerException.class, () -> BrokerClient.openTap(socket, wanted));
            assertEquals(BrokerReply.Code.VHOST_UNAVAILABLE, e.code());
            assertTrue(e.getMessage().contains("vhost-net not loaded: modprobe vhost_net"), e.getMessage());
            assertFalse(linkExists(prefix + "v"), "no tap is made when the vhost-net fds cannot be");
        }
    }

    @Test
    void refusesAUidNotOnTheAllowList() throws Exception {
        broker.close();
        broker = startBroker(BrokerPolicy.builder()
                .allowUid(65534)
                .allowGid(65534)
                .tapPrefix(0, prefix)
                .build());
        BrokerFixture.Exchange e = exchange(socket, request("a").build().encode());
        assertEquals(BrokerReply.Code.DENIED, e.reply().code());
        assertTrue(
                e.reply().message().contains("uid 0 gid 0 is not allowed"),
                e.reply().message());
        assertEquals(0, e.fds());
        assertFalse(linkExists(prefix + "a"));
    }

    @Test
    void refusesANameOutsideTheUidsPrefix() throws Exception {
        String other = "vx" + BrokerFixture.random();
        BrokerException e = assertThrows(
                BrokerException.class,
                () -> BrokerClient.openTap(
                        socket, BrokerRequest.builder().name(other).build()));
        assertEquals(BrokerReply.Code.DENIED, e.code());
        assertTrue(e.getMessage().contains("must be '" + prefix + "'"), e.getMessage());
        assertFalse(linkExists(other));
        BrokerException queues = assertThrows(
                BrokerException.class,
                () -> BrokerClient.openTap(socket, request("q").queues(5).build()));
        assertTrue(queues.getMessage().contains("at most 4"), queues.getMessage());
    }

    @Test
    void refusesAnExistingInterface() throws Exception {
        try (BrokeredTap first = BrokerClient.openTap(socket, request("dup").build())) {
            BrokerException e = assertThrows(
                    BrokerException.class,
                    () -> BrokerClient.openTap(socket, request("dup").build()));
            assertEquals(BrokerReply.Code.INVALID, e.code());
            assertTrue(e.getMessage().contains("exists already"), e.getMessage());
        }
    }

    @Test
    void refusesGarbageWrongVersionsAndOversizeAndServesTheNextClient() throws Exception {
        assertEquals(
                BrokerReply.Code.MALFORMED,
                exchange(socket, "\u0000garbage bytes, not a request".getBytes())
                        .reply()
                        .code());
        byte[] v9 = request("a").build().encode();
        v9[4] = 9;
        BrokerFixture.Exchange version = exchange(socket, v9);
        assertEquals(BrokerReply.Code.UNSUPPORTED_VERSION, version.reply().code());
        assertTrue(version.reply().message().contains("version 9"));
        byte[] big = ByteBuffer.allocate(8 + 5000)
                .putInt(Wire.MAGIC)
                .put((byte) 1)
                .put((byte) 1)
                .putShort((short) 5000)
                .array();
        assertEquals(BrokerReply.Code.TOO_LARGE, exchange(socket, big).reply().code());
        byte[] badUtf8 = request("ab").build().encode();
        badUtf8[8 + 1 + prefix.length()] = (byte) 0xff;
        assertEquals(
                BrokerReply.Code.MALFORMED, exchange(socket, badUtf8).reply().code());
        byte[] badName = request("a_b").build().encode();
        badName[8 + 1 + prefix.length() + 1] = ' '; // "a b": build() would refuse it, the wire does not
        assertEquals(BrokerReply.Code.INVALID, exchange(socket, badName).reply().code());
        try (BrokeredTap tap = BrokerClient.openTap(socket, request("ok").build())) {
            assertEquals(prefix + "ok", tap.name());
        }
    }

    @Test
    void aClientThatSendsNothingTimesOut() throws Exception {
        try (AFUNIXSocket s = AFUNIXSocket.connectTo(AFUNIXSocketAddress.of(socket))) {
            s.setSoTimeout(5000);
            s.getOutputStream().write(request("t").build().encode(), 0, 10); // half a request
            BrokerReply reply = BrokerReply.decode(Wire.read(s.getInputStream()));
            assertEquals(BrokerReply.Code.TIMEOUT, reply.code());
        }
    }

    @Test
    void servesClientsConcurrently() throws Exception {
        // a client that connects and stalls does not hold up the others
        try (AFUNIXSocket stalled = AFUNIXSocket.connectTo(AFUNIXSocketAddress.of(socket))) {
            ExecutorService pool = Executors.newFixedThreadPool(2);
            try {
                List<Callable<BrokeredTap>> both = List.of(
                        () -> BrokerClient.openTap(
                                socket, request("c1").queues(2).build()),
                        () -> BrokerClient.openTap(socket, request("c2").build()));
                List<Future<BrokeredTap>> results = pool.invokeAll(both, 10, TimeUnit.SECONDS);
                try (BrokeredTap a = results.get(0).get();
                        BrokeredTap b = results.get(1).get()) {
                    assertEquals(prefix + "c1", a.name());
                    assertEquals(prefix + "c2", b.name());
                    assertEquals(Set.of(a.name(), b.name()), broker.leasedTaps());
                }
            } finally {
                pool.shutdownNow();
            }
        }
    }

    @Test
    void ofTwoClientsAskingForTheSameNameAtOnceOneGetsIt() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            Callable<BrokeredTap> same =
                    () -> BrokerClient.openTap(socket, request("same").queues(2).build());
            List<Future<BrokeredTap>> results = pool.invokeAll(List.of(same, same, same, same), 10, TimeUnit.SECONDS);
            List<BrokeredTap> won = new ArrayList<>();
            int refused = 0;
            for (Future<BrokeredTap> f : results) {
                try {
                    won.add(f.get());
                } catch (java.util.concurrent.ExecutionException e) {
                    assertTrue(
                            e.getCause() instanceof BrokerException,
                            e.getCause().toString());
                    refused++;
                }
            }
            assertEquals(1, won.size());
            assertEquals(3, refused);
            won.forEach(BrokeredTap::close);
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void refusesClientsBeyondItsLimitWithBusy() throws Exception {
        broker.close();
        broker = Broker.builder(
                        socket,
                        BrokerPolicy.builder().allowUid(0).tapPrefix(0, prefix).build())
                .maxClients(1)
                .stateDirectory(dir.resolve("state"))
                .start();
        try (BrokeredTap held = BrokerClient.openTap(socket, request("one").build())) {
            BrokerException e = assertThrows(
                    BrokerException.class,
                    () -> BrokerClient.openTap(socket, request("two").build()));
            assertEquals(BrokerReply.Code.BUSY, e.code());
        }
        // the slot comes back once the first client's thread has ended its lease
        assertTrue(eventually(() -> {
            try (BrokeredTap again =
                    BrokerClient.openTap(socket, request("three").build())) {
                return again.name().equals(prefix + "three");
            } catch (BrokerException e) {
                return false;
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }));
    }

    @Test
    void onStopDeletesItsNonPersistentTapsAndLeavesPersistentOnes() throws Exception {
        BrokeredTap plain = BrokerClient.openTap(socket, request("p0").build());
        String persistentName = prefix + "p1";
        persistentToDelete.add(persistentName);
        BrokeredTap persistent =
                BrokerClient.openTap(socket, request("p1").persistent(true).build());
        try {
            broker.close();
            // the client still holds its fds: the broker deleted the tap anyway
            assertFalse(linkExists(plain.name()), "non-persistent tap " + plain.name() + " outlived the broker");
            assertFalse(plain.isLeased() && Files.exists(socket));
            assertTrue(linkExists(persistentName), "persistent tap is gone");
        } finally {
            plain.close();
            persistent.close();
        }
        assertTrue(linkExists(persistentName), "persistent tap went with the client's fds");
        assertFalse(Files.exists(socket), "socket file left behind");
    }

    @Test
    void leaksNoFdsOnFailedRequests() throws Exception {
        // warm up every path once, so lazily opened files (JNA, junixsocket natives) exist before the snapshot
        exchange(socket, "junk----".getBytes());
        try (BrokeredTap t = BrokerClient.openTap(socket, request("w").build())) {
            t.name();
        }
        assertThrows(
                BrokerException.class,
                () -> BrokerClient.openTap(
                        socket, request("w").queues(2).vhostFds(1).build()));
        Thread.sleep(200);
        Set<Integer> before = OpenFds.snapshot();
        for (int i = 0; i < 5; i++) {
            exchange(socket, "junk----".getBytes());
            assertEquals(
                    BrokerReply.Code.DENIED,
                    exchange(socket, request("x").queues(5).build().encode())
                            .reply()
                            .code());
            assertThrows(
                    BrokerException.class,
                    () -> BrokerClient.openTap(
                            socket, request("w" + 0).queues(2).vhostFds(2).build()));
            assertThrows(
                    BrokerException.class,
                    () -> BrokerClient.openTap(
                            socket, BrokerRequest.builder().name("nope").build()));
            String held = "h" + i;
            try (BrokeredTap tap = BrokerClient.openTap(socket, request(held).build())) {
                // an existing name: refused after the policy passed
                assertThrows(
                        BrokerException.class,
                        () -> BrokerClient.openTap(socket, request(held).build()));
            }
        }
        assertTrue(
                eventually(() -> OpenFds.leakedSince(before).isEmpty()),
                () -> "leaked: " + OpenFds.leakedSince(before));
    }

    @Test
    void aSecondBrokerOnTheSameSocketIsRefused() throws Exception {
        java.io.IOException e = assertThrows(
                java.io.IOException.class,
                () -> Broker.builder(socket, broker.policy())
                        .stateDirectory(dir.resolve("state"))
                        .start());
        assertTrue(e.getMessage().contains("already serves"), e.getMessage());
        assertTrue(Files.exists(socket));
        try (BrokeredTap stillServed = BrokerClient.openTap(socket, request("s").build())) {
            assertEquals(prefix + "s", stillServed.name());
        }
    }
}
