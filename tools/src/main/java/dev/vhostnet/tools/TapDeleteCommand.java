package dev.vhostnet.tools;

import dev.vhostnet.tap.TapDevice;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code vhostnet tap delete}: clears persistence, so the tap goes when its last fd closes (now, if none is open). */
@Command(
        name = "delete",
        mixinStandardHelpOptions = true,
        description = "Delete persistent taps (a process still attached keeps its tap until it closes it).")
final class TapDeleteCommand implements Callable<Integer> {
    @Parameters(arity = "1..*", paramLabel = "NAME", description = "Taps to delete.")
    List<String> names;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        for (String name : names) {
            TapCommand.existing(name);
            TapDevice.delete(name);
            spec.commandLine().getOut().println("deleted tap " + name);
        }
        return 0;
    }
}
