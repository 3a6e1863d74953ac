package dev.vhostnet.tools;

import dev.vhostnet.tap.TapInfo;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code vhostnet tap show}: one tap, as sysfs shows it. */
@Command(name = "show", mixinStandardHelpOptions = true, description = "Show one tap (from sysfs).")
final class TapShowCommand implements Callable<Integer> {
    @Parameters(paramLabel = "NAME")
    String name;

    @Option(names = "--json", description = "A JSON object, for machines.")
    boolean json;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        TapInfo t = TapCommand.existing(name);
        if (json) {
            spec.commandLine().getOut().println(Json.write(TapCommand.json(t)));
        } else {
            TapCommand.describe(t, spec.commandLine().getOut());
        }
        return 0;
    }
}
