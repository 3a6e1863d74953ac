package dev.vhostnet.tools;

import dev.vhostnet.tap.TapInfo;
import java.io.PrintWriter;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code vhostnet tap list}: every tap of this network namespace, as sysfs shows it. */
@Command(
        name = "list",
        mixinStandardHelpOptions = true,
        description = "List the taps of this network namespace (from sysfs).")
final class TapListCommand implements Callable<Integer> {
    @Option(names = "--json", description = "A JSON array, for machines.")
    boolean json;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        List<TapInfo> taps = TapInfo.list();
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            out.println(Json.write(TapCommand.json(taps)));
            return 0;
        }
        String format = "%-15s %-32s %6s %6s %6s %6s %-17s %-4s %s%n";
        out.printf(format, "NAME", "FLAGS", "QUEUES", "OWNER", "GROUP", "MTU", "MAC", "LINK", "MASTER");
        for (TapInfo t : taps) {
            out.printf(
                    format,
                    t.name(),
                    String.join(" ", t.flagNames()),
                    t.queues(),
                    t.owner().isPresent() ? t.owner().getAsInt() : "-",
                    t.group().isPresent() ? t.group().getAsInt() : "-",
                    t.mtu(),
                    t.mac(),
                    t.up() ? "up" : "down",
                    t.master().orElse("-"));
        }
        return 0;
    }
}
