package dev.vhostnet.tools;

import java.io.PrintWriter;
import java.util.List;
import java.util.Locale;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The {@code vhostnet} command. Exit codes: 0 success, 1 failure, 2 usage, 3 something the host
 * lacks, 4 permission; a failure is one line on stderr with the fix ({@link Failures}).
 *
 * <p>The command tree is {@link Tree}; a run that names a command builds only that branch (picocli
 * reflects over every option of every command it is given, a third of a short command's start).
 */
@Command(
        name = "vhostnet",
        mixinStandardHelpOptions = true,
        versionProvider = Main.ManifestVersion.class,
        description = "vhost-net, tap and KVM for Java virtual machine monitors.",
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {"0:success", "1:failure", "2:usage", "3:something the host lacks", "4:permission"})
public class Main implements Runnable {
    /** The whole command: the man pages and the shell completion are generated from it. */
    @Command(
            subcommands = {
                ProbeCommand.class,
                TapCommand.class,
                DemoCommand.class,
                ExecCommand.class,
                ServeCommand.class,
                VhostUserCommand.class,
                BenchCommand.class,
                BridgeHelperCommand.class,
                VmCommand.class,
                StatusCommand.class
            })
    public static final class Tree extends Main {}

    /** slf4j-simple's level, a system property it reads when the first logger is made. */
    static final String LOG_LEVEL_PROPERTY = "org.slf4j.simpleLogger.defaultLogLevel";

    static final List<String> LOG_LEVELS = List.of("error", "warn", "info", "debug", "trace");

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(
            names = "--log-level",
            paramLabel = "LEVEL",
            completionCandidates = LogLevels.class,
            description = "What is logged to stderr: ${COMPLETION-CANDIDATES}; default warn.")
    String logLevel;

    @Option(
            names = {"-v", "--verbose"},
            description = "More log: -v info, -vv debug, -vvv trace.")
    boolean[] verbose = new boolean[0];

    public static void main(String[] args) {
        System.exit(run(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
    }

    static int run(String[] args, PrintWriter out, PrintWriter err) {
        return commandLine(args, out, err).execute(args);
    }

    /**
     * The command for {@code args} with its streams and failure handling: the top command and the
     * branch {@code args} names, the whole {@link Tree} when they name none (help, a usage error),
     * the top command alone for {@code --version}. Add subcommands to {@link Tree}.
     */
    static CommandLine commandLine(String[] args, PrintWriter out, PrintWriter err) {
        CommandLine cli = new CommandLine(branch(args));
        cli.setOut(out);
        cli.setErr(err);
        cli.setExecutionExceptionHandler(new Failures());
        cli.setExecutionStrategy(Main::execute);
        return cli;
    }

    private static Object branch(String[] args) {
        String name = null;
        for (int i = 0; i < args.length && name == null; i++) {
            if (args[i].equals("--log-level")) {
                i++;
            } else if (!args[i].startsWith("-")) {
                name = args[i];
            }
        }
        if (name == null) {
            return List.of(args).contains("--version") || List.of(args).contains("-V") ? new Main() : new Tree();
        }
        for (Class<?> sub : Tree.class.getAnnotation(Command.class).subcommands()) {
            if (sub.getAnnotation(Command.class).name().equals(name)) {
                CommandLine top = new CommandLine(new Main());
                top.addSubcommand(new CommandLine(sub));
                return top.getCommandSpec();
            }
        }
        return new Tree();
    }

    /**
     * Sets the log level from the top command's options, then runs the command. This runs after
     * parsing and before any command's code, so before the first logger is made: slf4j-simple reads
     * the level then, once.
     */
    private static int execute(CommandLine.ParseResult parsed) {
        Main main = parsed.commandSpec().commandLine().getCommand();
        String level = main.logLevel;
        if (level == null && main.verbose.length > 0) {
            level = LOG_LEVELS.get(Math.min(LOG_LEVELS.size() - 1, 1 + main.verbose.length));
        }
        if (level != null) {
            level = level.toLowerCase(Locale.ROOT);
            if (!LOG_LEVELS.contains(level)) {
                throw new CommandLine.ParameterException(
                        parsed.commandSpec().commandLine(),
                        "--log-level: " + main.logLevel + " is not one of " + String.join(", ", LOG_LEVELS));
            }
            System.setProperty(LOG_LEVEL_PROPERTY, level);
        }
        return new CommandLine.RunLast().execute(parsed);
    }

    /** The log levels, for the help and shell completion. */
    static final class LogLevels implements Iterable<String> {
        @Override
        public java.util.Iterator<String> iterator() {
            return LOG_LEVELS.iterator();
        }
    }

    /** The version the jar's manifest carries ({@code Implementation-Version}, set by the build). */
    static final class ManifestVersion implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String version = Main.class.getPackage().getImplementationVersion();
            return new String[] {
                "vhostnet " + (version != null ? version : "(version unknown: not run from the jar)"),
                "Java " + System.getProperty("java.version") + " (" + System.getProperty("java.vm.name") + ")"
            };
        }
    }

    /** Without a subcommand: the usage, as a usage error. */
    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "a command is required");
    }
}
