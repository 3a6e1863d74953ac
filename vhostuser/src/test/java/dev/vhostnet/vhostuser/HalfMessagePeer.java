package dev.vhostnet.vhostuser;

import dev.vhostnet.sys.Fd;
import dev.vhostnet.sys.Syscalls;
import java.io.OutputStream;
import java.nio.file.Path;
import java.util.Arrays;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.FileDescriptorCast;

/**
 * A vhost-user peer that stops in the middle of a message and waits to be killed, run as a process
 * of its own. {@code front-end SOCKET}: connects and sends the header and half the payload of
 * {@code SET_VRING_KICK}, its eventfd attached. {@code back-end SOCKET}: listens, takes the first
 * request and sends half a reply header. Prints {@code listening} (back-end) and {@code sent}.
 */
final class HalfMessagePeer {
    private HalfMessagePeer() {}

    public static void main(String[] args) throws Exception {
        Path socket = Path.of(args[1]);
        if (args[0].equals("front-end")) {
            try (AFUNIXSocket s = AFUNIXSocket.connectTo(AFUNIXSocketAddress.of(socket));
                    Fd kick = Syscalls.eventfd(0, 0)) {
                s.setOutboundFileDescriptors(
                        FileDescriptorCast.unsafeUsing(kick.get()).getFileDescriptor());
                byte[] request = VhostUserMessage.request(
                        VhostUserRequest.SET_VRING_KICK, false, VhostUserMessage.vringFile(0, false));
                sendAndWait(s.getOutputStream(), Arrays.copyOf(request, VhostUserMessage.HEADER_SIZE + 4));
            }
        } else {
            try (AFUNIXServerSocket server = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(socket))) {
                System.out.println("listening");
                try (AFUNIXSocket s = server.accept()) {
                    byte[] header = s.getInputStream().readNBytes(VhostUserMessage.HEADER_SIZE);
                    int request = VhostUserMessage.decodeHeader(header).request();
                    sendAndWait(
                            s.getOutputStream(),
                            Arrays.copyOf(VhostUserMessage.reply(request, VhostUserMessage.u64(0)), 6));
                }
            }
        }
    }

    private static void sendAndWait(OutputStream out, byte[] part) throws Exception {
        out.write(part);
        out.flush();
        System.out.println("sent");
        Thread.sleep(Long.MAX_VALUE);
    }
}
