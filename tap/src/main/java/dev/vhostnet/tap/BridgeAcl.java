package dev.vhostnet.tap;

import com.google.common.collect.ImmutableList;
import dev.vhostnet.sys.Syscalls;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Optional;

/**
 * Which bridges a bridge helper may put taps on: QEMU's {@code bridge.conf} format, as
 * {@code parse_acl_file} of {@code qemu-bridge-helper.c} reads it. One rule a line —
 * {@code allow BR}, {@code deny BR}, {@code allow all}, {@code deny all}, {@code include FILE} —
 * blank lines and {@code #} comments skipped. A bridge is granted when some rule allows it and none
 * denies it: deny wins, whatever the order, and nothing is allowed by default.
 *
 * <p>Stricter than QEMU where QEMU is silent: a bridge name that is not an interface name (QEMU
 * truncates it) and an include cycle (QEMU recurses without end) are refused, and so is a file
 * that someone other than root or this user could have written (group or others may write it, or
 * another user owns it), since the file decides what a privileged helper does. An included file
 * that does not exist is skipped, as QEMU does; a relative include is read from the including
 * file's directory.
 */
public final class BridgeAcl {
    /** Where QEMU's helper reads its rules ({@code CONFIG_QEMU_CONFDIR "/bridge.conf"}). */
    public static final Path DEFAULT_FILE = Path.of("/etc/qemu/bridge.conf");

    private static final int MAX_INCLUDE_DEPTH = 16;

    /** One rule: {@code bridge} empty for {@code all}; {@code where} is {@code file:line}. */
    public record Rule(boolean allow, Optional<String> bridge, String where) {
        boolean matches(String name) {
            return bridge.map(name::equals).orElse(true);
        }

        @Override
        public String toString() {
            return where + " (" + (allow ? "allow " : "deny ") + bridge.orElse("all") + ")";
        }
    }

    /** The outcome for one bridge: granted or not, and the rule that decided (none: no rule allows it). */
    public record Decision(boolean granted, String bridge, Optional<Rule> rule) {
        /** Why, in words: {@code allowed by FILE:LINE (allow br0)}. */
        public String reason() {
            if (granted) {
                return "allowed by " + rule.orElseThrow();
            }
            return rule.map(r -> "denied by " + r).orElse("allowed by no rule");
        }
    }

    private final ImmutableList<Rule> rules;

    private BridgeAcl(List<Rule> rules) {
        this.rules = ImmutableList.copyOf(rules);
    }

    public ImmutableList<Rule> rules() {
        return rules;
    }

    /**
     * Reads {@code file} and what it includes; throws {@link IllegalArgumentException} naming the
     * file and line of a malformed rule, and {@link IOException} when {@code file} itself cannot be read.
     */
    public static BridgeAcl read(Path file) throws IOException {
        List<Rule> rules = new ArrayList<>();
        read(file.toAbsolutePath().normalize(), rules, new ArrayDeque<>());
        return new BridgeAcl(rules);
    }

    private static void read(Path file, List<Rule> rules, Deque<Path> including) throws IOException {
        if (including.contains(file)) {
            throw new IllegalArgumentException(
                    including.peek() + ": include cycle: " + file + " includes itself through " + including);
        }
        if (including.size() >= MAX_INCLUDE_DEPTH) {
            throw new IllegalArgumentException(file + ": includes nest deeper than " + MAX_INCLUDE_DEPTH);
        }
        checkTrusted(file);
        List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        including.push(file);
        parse(file, lines, rules, including);
        including.pop();
    }

    private static void parse(Path file, List<String> lines, List<Rule> rules, Deque<Path> including)
            throws IOException {
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            String where = file + ":" + (i + 1);
            String[] words = line.split("[ \t]+", 2);
            if (words.length < 2) {
                throw new IllegalArgumentException(where + ": '" + TapConfig.visible(line)
                        + "' is not a rule: write allow BRIDGE, deny BRIDGE, " + "allow all, deny all or include FILE");
            }
            String arg = words[1].strip();
            switch (words[0]) {
                case "allow", "deny" -> rules.add(new Rule(words[0].equals("allow"), bridge(arg, where), where));
                case "include" -> {
                    Path included = file.resolveSibling(arg).normalize();
                    try {
                        read(included, rules, including);
                    } catch (NoSuchFileException e) {
                        // as QEMU: a missing include (a per-user file not written yet) adds no rule
                    }
                }
                default ->
                    throw new IllegalArgumentException(where + ": unknown command '" + TapConfig.visible(words[0])
                            + "': the commands are allow, deny and include");
            }
        }
    }

    private static Optional<String> bridge(String arg, String where) {
        if (arg.equals("all")) {
            return Optional.empty();
        }
        try {
            Bridge.checkName(arg);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(where + ": " + e.getMessage(), e);
        }
        return Optional.of(arg);
    }

    /** Owned by root or this user, and writable by nobody else. */
    private static void checkTrusted(Path file) throws IOException {
        int uid = (int) Files.getAttribute(file, "unix:uid");
        int mode = (int) Files.getAttribute(file, "unix:mode");
        int self = Syscalls.geteuid();
        if ((uid != 0 && uid != self) || (mode & 022) != 0) {
            throw new IllegalArgumentException(file + " is owned by uid " + uid + " with mode 0"
                    + Integer.toOctalString(mode & 07777) + ": an ACL must be owned by root (or uid " + self
                    + ") and writable by its owner only (chmod 644)");
        }
    }

    /** Whether {@code bridge} is granted: some rule allows it and no rule denies it (QEMU: deny wins). */
    public Decision decide(String bridge) {
        Optional<Rule> allowing = Optional.empty();
        for (Rule r : rules) {
            if (r.matches(bridge)) {
                if (!r.allow()) {
                    return new Decision(false, bridge, Optional.of(r));
                }
                allowing = allowing.or(() -> Optional.of(r));
            }
        }
        return new Decision(allowing.isPresent(), bridge, allowing);
    }

    @Override
    public String toString() {
        return "BridgeAcl" + rules;
    }
}
