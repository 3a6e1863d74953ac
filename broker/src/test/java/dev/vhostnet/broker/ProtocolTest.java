package dev.vhostnet.broker;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.collect.ImmutableSet;
import dev.vhostnet.tap.MacAddress;
import dev.vhostnet.tap.Offload;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class ProtocolTest {
    private static BrokerRequest decode(byte[] message) throws IOException {
        return BrokerRequest.decode(Wire.read(new ByteArrayInputStream(message)));
    }

    private static ProtocolException refused(byte[] message) {
        return assertThrows(ProtocolException.class, () -> decode(message));
    }

    private static byte[] frame(int version, int kind, byte[] body) {
        return ByteBuffer.allocate(8 + body.length)
                .putInt(Wire.MAGIC)
                .put((byte) version)
                .put((byte) kind)
                .putShort((short) body.length)
                .put(body)
                .array();
    }

    private static byte[] body(byte[] message) {
        return Arrays.copyOfRange(message, 8, message.length);
    }

    @Test
    void aRequestWithEveryOptionSurvivesTheWire() throws IOException {
        BrokerRequest sent = BrokerRequest.builder()
                .name("vm1000-%d")
                .queues(4)
                .vhostFds(2)
                .vnetHeader(12)
                .offloads(Offload.CSUM, Offload.TSO4, Offload.TSO6)
                .persistent(true)
                .up(true)
                .mtu(9000)
                .mac(MacAddress.parse("02:00:00:00:10:01"))
                .build();
        BrokerRequest got = decode(sent.encode());
        assertEquals(sent.toString(), got.toString());
        assertEquals(ImmutableSet.of(Offload.CSUM, Offload.TSO4, Offload.TSO6), got.offloads());
        assertEquals(9000, got.tapConfig().mtu().getAsInt());
        assertTrue(got.tapConfig().persistent());
    }

    @Test
    void theMinimalRequestIsItsExactBytes() {
        byte[] message = BrokerRequest.builder().name("t").build().encode();
        // magic "VNBR", version 1, kind 1, length 12; name "t"; 1 queue; 0 vhost; hdr 0; offloads 0; flags 0
        assertArrayEquals(new byte[] {'V', 'N', 'B', 'R', 1, 1, 0, 12, 1, 't', 0, 1, 0, 0, 0, 0, 0, 0, 0, 0}, message);
    }

    @Test
    void repliesSurviveTheWire() throws IOException {
        BrokerReply ok = BrokerReply.ok("vm1000-3", 2, 1, 12, ImmutableSet.of(Offload.CSUM));
        assertEquals(
                ok.toString(),
                BrokerReply.decode(Wire.read(new ByteArrayInputStream(ok.encode())))
                        .toString());
        BrokerReply error = BrokerReply.error(BrokerReply.Code.DENIED, "nö: " + "x".repeat(2000));
        BrokerReply back = BrokerReply.decode(Wire.read(new ByteArrayInputStream(error.encode())));
        assertEquals(BrokerReply.Code.DENIED, back.code());
        assertTrue(back.message().startsWith("nö: xxx") && back.message().length() <= BrokerReply.MAX_MESSAGE);
    }

    @Test
    void rejectsGarbage() {
        ProtocolException e = refused("GET / HTTP/1.1\r\n\r\n".getBytes());
        assertEquals(BrokerReply.Code.MALFORMED, e.code());
        assertTrue(e.getMessage().contains("bad magic"), e.getMessage());
    }

    @Test
    void rejectsAnUnknownVersion() {
        ProtocolException e = refused(
                frame(2, 1, body(BrokerRequest.builder().name("t").build().encode())));
        assertEquals(BrokerReply.Code.UNSUPPORTED_VERSION, e.code());
        assertTrue(e.getMessage().contains("version 2"), e.getMessage());
    }

    @Test
    void rejectsAnOversizedBodyWithoutReadingIt() {
        byte[] header = ByteBuffer.allocate(8)
                .putInt(Wire.MAGIC)
                .put((byte) 1)
                .put((byte) 1)
                .putShort((short) 60000)
                .array();
        ProtocolException e = refused(header);
        assertEquals(BrokerReply.Code.TOO_LARGE, e.code());
    }

    @Test
    void rejectsTruncatedHeadersAndBodies() {
        byte[] whole = BrokerRequest.builder().name("t").build().encode();
        assertEquals(
                BrokerReply.Code.MALFORMED, refused(Arrays.copyOf(whole, 5)).code());
        ProtocolException e = refused(Arrays.copyOf(whole, whole.length - 3));
        assertTrue(e.getMessage().contains("truncated body"), e.getMessage());
        // a body whose length field covers fewer bytes than its fields need
        ProtocolException inside = refused(frame(1, 1, Arrays.copyOf(body(whole), 6)));
        assertTrue(inside.getMessage().contains("ends inside"), inside.getMessage());
    }

    @Test
    void rejectsTrailingBytesUnknownFlagsAndKinds() {
        byte[] b = body(BrokerRequest.builder().name("t").build().encode());
        assertTrue(refused(frame(1, 1, Arrays.copyOf(b, b.length + 1)))
                .getMessage()
                .contains("trailing"));
        byte[] flags = b.clone();
        flags[flags.length - 1] = (byte) 0x80;
        assertTrue(refused(frame(1, 1, flags)).getMessage().contains("unknown flag"));
        assertTrue(refused(frame(1, 9, b)).getMessage().contains("unknown request kind 9"));
    }

    @Test
    void rejectsANameThatIsNotUtf8() {
        byte[] b = body(BrokerRequest.builder().name("ab").build().encode());
        b[1] = (byte) 0xc3;
        b[2] = (byte) 0x28;
        ProtocolException e = refused(frame(1, 1, b));
        assertEquals(BrokerReply.Code.MALFORMED, e.code());
        assertTrue(e.getMessage().contains("not valid UTF-8"), e.getMessage());
    }

    @Test
    void rejectsWhatTheTapModuleRejects() {
        for (String bad : new String[] {"has space", "a/b", "sixteen-chars-xx", "two%d%d", "..", "tap%s"}) {
            byte[] rest = Arrays.copyOfRange(
                    body(BrokerRequest.builder().name("x").build().encode()), 2, 12);
            byte[] b = new Wire.Out().str8(bad).raw(rest).bytes();
            ProtocolException e = refused(frame(1, 1, b));
            assertEquals(BrokerReply.Code.INVALID, e.code(), bad);
            assertTrue(e.getMessage().contains("tap name"), e.getMessage());
        }
    }

    @Test
    void rejectsMoreVhostFdsThanQueuesAndTooManyFds() {
        assertThrows(
                IllegalArgumentException.class,
                () -> BrokerRequest.builder().name("t").queues(1).vhostFds(2).build());
        assertThrows(
                IllegalArgumentException.class,
                () -> BrokerRequest.builder()
                        .name("t")
                        .queues(200)
                        .vhostFds(100)
                        .build());
        assertThrows(
                IllegalArgumentException.class,
                () -> BrokerRequest.builder().name("t").vnetHeader(11).build());
    }
}
