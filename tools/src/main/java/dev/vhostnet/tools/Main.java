package dev.vhostnet.tools;

import java.io.PrintStream;

/** The {@code vhostnet} command: {@code probe} for now. */
public final class Main {
    private Main() {}

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    static int run(String[] args, PrintStream out, PrintStream err) {
        if (args.length == 1 && args[0].equals("probe")) {
            new Probe().print(out);
            return 0;
        }
        err.println("usage: vhostnet probe   (what this host offers for vhost-net, tap and KVM, and the fix for what it lacks)");
        return args.length == 1 && (args[0].equals("--help") || args[0].equals("-h")) ? 0 : 2;
    }
}
