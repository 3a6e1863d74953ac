package dev.vhostnet.broker;

import com.sun.jna.Memory;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;

/**
 * The VMM side of {@link UnprivilegedClientTest}, run in a child JVM as an unprivileged uid:
 * {@code UnprivilegedClient SOCKET NAME}. Asks the broker for tap NAME, prints
 * {@code TAP <name> UID <uid>}, then for each hex line on stdin writes that frame to queue 0 and
 * prints {@code WROTE <n>}; an empty line or end of input closes the tap and exits. Errors go to
 * stdout as {@code ERROR <message>}.
 */
public final class UnprivilegedClient {
    private UnprivilegedClient() {}

    public static void main(String[] args) throws Exception {
        String uid = Files.readAllLines(Path.of("/proc/self/status")).stream()
                .filter(l -> l.startsWith("Uid:"))
                .findFirst()
                .orElse("Uid: ?")
                .split("\\s+")[1];
        try (BrokeredTap tap = BrokerClient.openTap(
                Path.of(args[0]), BrokerRequest.builder().name(args[1]).build())) {
            System.out.println("TAP " + tap.name() + " UID " + uid);
            System.out.flush();
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.US_ASCII));
            String line;
            while ((line = in.readLine()) != null && !line.isEmpty()) {
                byte[] frame = HexFormat.of().parseHex(line.trim());
                Memory buf = new Memory(frame.length);
                buf.write(0, frame, 0, frame.length);
                long n = tap.queueFd(0).write(buf, frame.length);
                System.out.println("WROTE " + n);
                System.out.flush();
            }
        } catch (Exception e) {
            System.out.println("ERROR " + e.getMessage() + " UID " + uid);
            System.out.flush();
        }
    }
}
