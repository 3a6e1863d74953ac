package dev.vhostnet.tools;

import dev.vhostnet.tap.TapInfo;
import java.io.PrintWriter;
import java.util.List;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code vhostnet tap}: persistent taps for a VMM to attach to ({@code create}, {@code delete}, {@code list}, {@code show}). */
@Command(
        name = "tap",
        mixinStandardHelpOptions = true,
        description = "Create, delete, list and show tap devices.",
        subcommands = {TapCreateCommand.class, TapDeleteCommand.class, TapListCommand.class, TapShowCommand.class})
final class TapCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "a tap command is required");
    }

    /** The tap called {@code name}, or a failure saying there is none (exit 3). */
    static TapInfo existing(String name) throws java.io.IOException {
        return TapInfo.read(name)
                .orElseThrow(() -> new Failures.HostLacksException(
                        "no tap named " + name + " in this network namespace ('vhostnet tap list' shows the taps)"));
    }

    static Object json(TapInfo t) {
        return Json.object(
                "name",
                t.name(),
                "flags",
                t.flagNames(),
                "queues",
                t.queues(),
                "owner",
                t.owner().isPresent() ? t.owner().getAsInt() : null,
                "group",
                t.group().isPresent() ? t.group().getAsInt() : null,
                "mtu",
                t.mtu(),
                "mac",
                t.mac().toString(),
                "up",
                t.up(),
                "master",
                t.master().orElse(null));
    }

    /** {@code name: flags; N queue(s) attached; owner; group; mtu; mac; up/down; master}, one line. */
    static void describe(TapInfo t, PrintWriter out) {
        out.printf(
                "%s: %s; %d queue%s attached; owner %s; group %s; mtu %d; mac %s; %s%s%n",
                t.name(),
                String.join(" ", t.flagNames()),
                t.queues(),
                t.queues() == 1 ? "" : "s",
                t.owner().isPresent() ? t.owner().getAsInt() : "-",
                t.group().isPresent() ? t.group().getAsInt() : "-",
                t.mtu(),
                t.mac(),
                t.up() ? "up" : "down",
                t.master().map(m -> "; master " + m).orElse(""));
    }

    static List<Object> json(List<TapInfo> taps) {
        return taps.stream().map(TapCommand::json).toList();
    }
}
