package dev.vhostnet.broker;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * The framing both directions share: an 8-byte header (magic {@code "VNBR"}, version, kind, body
 * length as u16, all big-endian) and a body of at most {@value #MAX_BODY} bytes. Strings are
 * length-prefixed strict UTF-8 (malformed input is an error, never replaced).
 */
final class Wire {
    /** {@code "VNBR"}. */
    static final int MAGIC = 0x564e4252;

    static final int VERSION = 1;
    static final int HEADER_SIZE = 8;
    /** The hard limit of a body, in both directions. */
    static final int MAX_BODY = 1024;
    /** {@code SCM_MAX_FD} of {@code include/net/scm.h}: the most fds one message can carry. */
    static final int SCM_MAX_FD = 253;

    static final int KIND_OPEN_TAP = 1;
    static final int KIND_OK = 1;
    static final int KIND_ERROR = 2;

    private Wire() {}

    /** A header as read: the caller checks magic and version first. */
    record Header(int magic, int version, int kind, int length) {}

    /**
     * Reads a header and its body, rejecting (in this order) a short header, a wrong magic, an
     * unknown version, a body over {@value #MAX_BODY} and a truncated body. Never reads more than
     * the header when the header is wrong, so garbage costs 8 bytes.
     */
    static Frame read(InputStream in) throws IOException {
        byte[] head = in.readNBytes(HEADER_SIZE);
        if (head.length == 0) {
            throw new EOFException("connection closed before a request");
        }
        if (head.length < HEADER_SIZE) {
            throw new ProtocolException(
                    BrokerReply.Code.MALFORMED, "truncated header: " + head.length + " of " + HEADER_SIZE + " bytes");
        }
        ByteBuffer h = ByteBuffer.wrap(head);
        Header header = new Header(h.getInt(), h.get() & 0xff, h.get() & 0xff, h.getShort() & 0xffff);
        if (header.magic() != MAGIC) {
            throw new ProtocolException(
                    BrokerReply.Code.MALFORMED,
                    String.format(
                            "bad magic 0x%08x: not a vhostnet broker message (expected \"VNBR\")", header.magic()));
        }
        if (header.version() != VERSION) {
            throw new ProtocolException(
                    BrokerReply.Code.UNSUPPORTED_VERSION,
                    "protocol version " + header.version() + " is not supported: this broker speaks version "
                            + VERSION);
        }
        if (header.length() > MAX_BODY) {
            throw new ProtocolException(
                    BrokerReply.Code.TOO_LARGE,
                    "body of " + header.length() + " bytes exceeds the limit of " + MAX_BODY);
        }
        byte[] body = in.readNBytes(header.length());
        if (body.length < header.length()) {
            throw new ProtocolException(
                    BrokerReply.Code.MALFORMED, "truncated body: " + body.length + " of " + header.length() + " bytes");
        }
        return new Frame(header.kind(), body);
    }

    /** A kind and its body. */
    record Frame(int kind, byte[] body) {
        /** The whole message, header included, for one {@code write}. */
        byte[] encode() {
            if (body.length > MAX_BODY) {
                throw new IllegalArgumentException("body of " + body.length + " bytes exceeds " + MAX_BODY);
            }
            return ByteBuffer.allocate(HEADER_SIZE + body.length)
                    .putInt(MAGIC)
                    .put((byte) VERSION)
                    .put((byte) kind)
                    .putShort((short) body.length)
                    .put(body)
                    .array();
        }
    }

    /** A big-endian body writer. */
    static final class Out {
        private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();

        Out u8(int v) {
            bytes.write(v);
            return this;
        }

        Out u16(int v) {
            bytes.write(v >>> 8);
            bytes.write(v);
            return this;
        }

        Out u32(long v) {
            u16((int) (v >>> 16));
            return u16((int) v);
        }

        Out raw(byte[] b) {
            bytes.write(b, 0, b.length);
            return this;
        }

        /** A string with a u8 length (at most 255 bytes of UTF-8). */
        Out str8(String s) {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            if (b.length > 255) {
                throw new IllegalArgumentException("string of " + b.length + " bytes does not fit a u8 length");
            }
            return u8(b.length).raw(b);
        }

        /** A string with a u16 length, cut to {@code max} bytes at a character boundary. */
        Out str16(String s, int max) {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            int n = b.length;
            if (n > max) {
                n = max;
                while (n > 0 && (b[n] & 0xc0) == 0x80) {
                    n--;
                }
            }
            u16(n);
            bytes.write(b, 0, n);
            return this;
        }

        byte[] bytes() {
            return bytes.toByteArray();
        }
    }

    /** A big-endian body reader; running past the end or bad UTF-8 is a {@link ProtocolException}. */
    static final class In {
        private final DataInputStream in;
        private final int length;
        private int read;

        In(byte[] body) {
            this.in = new DataInputStream(new java.io.ByteArrayInputStream(body));
            this.length = body.length;
        }

        private void need(int n, String what) throws ProtocolException {
            if (read + n > length) {
                throw new ProtocolException(
                        BrokerReply.Code.MALFORMED,
                        "body ends inside " + what + " (at byte " + read + " of " + length + ")");
            }
            read += n;
        }

        int u8(String what) throws IOException {
            need(1, what);
            return in.readUnsignedByte();
        }

        int u16(String what) throws IOException {
            need(2, what);
            return in.readUnsignedShort();
        }

        long u32(String what) throws IOException {
            need(4, what);
            return in.readInt() & 0xffffffffL;
        }

        byte[] raw(int n, String what) throws IOException {
            need(n, what);
            byte[] b = new byte[n];
            in.readFully(b);
            return b;
        }

        String str8(String what) throws IOException {
            return utf8(raw(u8(what + " length"), what), what);
        }

        String str16(String what) throws IOException {
            return utf8(raw(u16(what + " length"), what), what);
        }

        /** Rejects bytes after the last field: a body is exactly its fields. */
        void end() throws ProtocolException {
            if (read != length) {
                throw new ProtocolException(
                        BrokerReply.Code.MALFORMED,
                        (length - read) + " unexpected trailing byte(s) after the last field");
            }
        }

        private static String utf8(byte[] b, String what) throws ProtocolException {
            try {
                CharBuffer chars = StandardCharsets.UTF_8
                        .newDecoder()
                        .onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT)
                        .decode(ByteBuffer.wrap(b));
                return chars.toString();
            } catch (CharacterCodingException e) {
                throw new ProtocolException(BrokerReply.Code.MALFORMED, what + " is not valid UTF-8");
            }
        }
    }
}
