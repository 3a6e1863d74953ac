package dev.vhostnet.tools;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;

/** A {@link StatusDocument} as {@code vhostnet status} prints it without {@code --json}: lines and a table. */
final class StatusTable {
    private static final String[] PAIR_COLUMNS = {
        "pair",
        "rx packets",
        "rx bytes",
        "rx dropped",
        "tx packets",
        "tx bytes",
        "tx dropped",
        "violations",
        "refusals",
        "vring errors"
    };

    private StatusTable() {}

    static void print(JsonNode doc, PrintWriter out) {
        String daemon = doc.path("daemon").asText("");
        out.printf(
                "vhostnet %s (pid %s) on %s%n%n",
                daemon.isEmpty() ? "daemon" : daemon,
                doc.path("pid").asText("?"),
                doc.path("socket").asText("?"));
        if (daemon.equals("vhost-user")) {
            JsonNode f = doc.path("frontends");
            out.printf(
                    "front-ends    %d connected so far, %s; %d dropped%n",
                    f.path("connections").asLong(),
                    f.path("running").asBoolean() ? "one served now" : "none served now",
                    f.path("dropped").size());
            for (JsonNode why : f.path("dropped")) {
                out.printf("              dropped: %s%n", why.asText());
            }
            device(doc.path("device"), doc.path("tap").asText("?"), out);
        } else if (daemon.equals("serve")) {
            out.printf(
                    "clients       %d accepted; taps granted %d (vhost-net fds %d, persistent %d)%n",
                    doc.path("accepted").asLong(),
                    doc.path("granted").asLong(),
                    doc.path("vhostFds").asLong(),
                    doc.path("persistent").asLong());
            List<String> codes = new ArrayList<>();
            doc.path("refused")
                    .properties()
                    .forEach(e -> codes.add(e.getKey() + " " + e.getValue().asLong()));
            out.printf(
                    "refused       %d%s%n",
                    doc.path("refusals").asLong(), codes.isEmpty() ? "" : " (" + String.join(", ", codes) + ")");
            out.printf("leases        %d%n", doc.path("leases").size());
            for (JsonNode lease : doc.path("leases")) {
                tap(lease.path("tap").asText(), lease.path("statistics"), out);
            }
        } else {
            out.println("an answer this vhostnet does not know; --json prints it");
        }
    }

    private static void device(JsonNode device, String tapName, PrintWriter out) {
        out.printf("backend       %s%n%n", device.path("backend").asText("?"));
        List<String[]> rows = new ArrayList<>();
        rows.add(PAIR_COLUMNS);
        int index = 0;
        for (JsonNode p : device.path("pairs")) {
            rows.add(row(String.valueOf(index++), p));
        }
        rows.add(row("total", device.path("totals")));
        int[] widths = new int[PAIR_COLUMNS.length];
        for (String[] r : rows) {
            for (int c = 0; c < r.length; c++) {
                widths[c] = Math.max(widths[c], r[c].length());
            }
        }
        for (String[] r : rows) {
            StringBuilder line = new StringBuilder();
            for (int c = 0; c < r.length; c++) {
                line.append(
                        c == 0
                                ? String.format("%-" + widths[c] + "s", r[c])
                                : String.format("  %" + widths[c] + "s", r[c]));
            }
            out.println(line);
        }
        out.println();
        tap(tapName, device.path("tap"), out);
    }

    private static String[] row(String name, JsonNode p) {
        return new String[] {
            name,
            count(p.path("rx"), "packets"),
            count(p.path("rx"), "bytes"),
            count(p.path("rx"), "dropped"),
            count(p.path("tx"), "packets"),
            count(p.path("tx"), "bytes"),
            count(p.path("tx"), "dropped"),
            p.path("guestViolations").asText("-"),
            p.path("refusals").asText("-"),
            p.path("vringErrors").asText("-")
        };
    }

    /** A count, or {@code -} where nobody counts it (a vhost-net worker's traffic). */
    private static String count(JsonNode traffic, String field) {
        JsonNode n = traffic.path(field);
        return n.isNumber() ? n.asText() : "-";
    }

    private static void tap(String name, JsonNode s, PrintWriter out) {
        if (!s.isObject()) {
            out.printf("tap %-9s no statistics (gone, or in another network namespace)%n", name);
            return;
        }
        out.printf(
                "tap %-9s rx %d packets %d bytes %d dropped %d errors; tx %d packets %d bytes %d dropped %d errors"
                        + " (the host's side: rx is from the guest)%n",
                name,
                s.path("rxPackets").asLong(),
                s.path("rxBytes").asLong(),
                s.path("rxDropped").asLong(),
                s.path("rxErrors").asLong(),
                s.path("txPackets").asLong(),
                s.path("txBytes").asLong(),
                s.path("txDropped").asLong(),
                s.path("txErrors").asLong());
    }
}
