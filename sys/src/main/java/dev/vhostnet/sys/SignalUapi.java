package dev.vhostnet.sys;

import com.sun.jna.Pointer;
import com.sun.jna.Structure;
import com.sun.jna.Structure.FieldOrder;

/** {@code <signal.h>}: the signal numbers the project sends. */
public final class SignalUapi {
    private SignalUapi() {}

    /** Urgent data on a socket; ignored by default and unused by the JVM, so free to kick a thread out of a blocking call. */
    public static final int SIGURG = 23;

    /** glibc's {@code struct sigaction} on x86-64 ({@code sa_handler} is the union's handler member). */
    @CExpr("struct sigaction")
    @FieldOrder({"sa_handler", "sa_mask", "sa_flags", "sa_restorer"})
    public static final class Sigaction extends Structure {
        public static final int SIZE = 152;
        public Pointer sa_handler;
        public byte[] sa_mask = new byte[128];
        public int sa_flags;
        public Pointer sa_restorer;
    }
}
