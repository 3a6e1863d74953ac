package dev.vhostnet.tools;

import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code vhostnet} command. Exit codes: 0 success, 1 failure, 2 usage, 3 something the host
 * lacks, 4 permission; a failure is one line on stderr with the fix ({@link Failures}).
 */
@Command(
        name = "vhostnet",
        mixinStandardHelpOptions = true,
        version = "vhostnet 0.1.0",
        description = "vhost-net, tap and KVM for Java virtual machine monitors.",
        subcommands = {
            ProbeCommand.class,
            TapCommand.class,
            DemoCommand.class,
            ExecCommand.class,
            ServeCommand.class,
            VhostUserCommand.class,
            BenchCommand.class
        },
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {"0:success", "1:failure", "2:usage", "3:something the host lacks", "4:permission"})
public final class Main implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(run(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
    }

    static int run(String[] args, PrintWriter out, PrintWriter err) {
        return commandLine(out, err).execute(args);
    }

    /** The command tree with its streams and failure handling; add subcommands here. */
    static CommandLine commandLine(PrintWriter out, PrintWriter err) {
        CommandLine cli = new CommandLine(new Main());
        cli.setOut(out);
        cli.setErr(err);
        cli.setExecutionExceptionHandler(new Failures());
        return cli;
    }

    /** Without a subcommand: the usage, as a usage error. */
    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "a command is required");
    }
}
