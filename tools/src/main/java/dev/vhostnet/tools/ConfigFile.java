package dev.vhostnet.tools;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * A command's options written as a file, one {@code name = value} a line (the long option without
 * its dashes; {@code #} starts a comment; a repeatable option may come on several lines; a flag takes
 * {@code true} or {@code false}), turned into the arguments they stand for, so picocli checks them
 * as it checks the command line.
 */
final class ConfigFile {
    private ConfigFile() {}

    /** The arguments {@code file} stands for, for {@code spec}'s options; {@code --config} itself is not a setting. */
    static List<String> arguments(Path file, CommandSpec spec) throws IOException {
        List<String> args = new ArrayList<>();
        List<String> lines = Files.readAllLines(file);
        for (int n = 1; n <= lines.size(); n++) {
            String line = lines.get(n - 1).strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            String where = file + ":" + n + ": ";
            int eq = line.indexOf('=');
            if (eq < 0) {
                throw new IllegalArgumentException(where + "'" + line + "' is not 'name = value'");
            }
            String name = line.substring(0, eq).strip();
            String value = line.substring(eq + 1).strip();
            OptionSpec option = name.equals("config") ? null : spec.findOption("--" + name);
            if (option == null) {
                throw new IllegalArgumentException(where + "no setting '" + name + "': the settings are the long "
                        + "options of '" + spec.qualifiedName() + "' without their dashes");
            }
            if (option.arity().max() == 0) {
                if (!value.equals("true") && !value.equals("false")) {
                    throw new IllegalArgumentException(where + name + " is true or false, not '" + value + "'");
                }
                if (value.equals("true")) {
                    args.add("--" + name);
                }
            } else {
                args.add("--" + name);
                args.add(value);
            }
        }
        return args;
    }
}
