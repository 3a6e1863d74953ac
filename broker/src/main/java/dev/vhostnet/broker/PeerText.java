package dev.vhostnet.broker;

/**
 * Text a peer chose (a tap name, a message built around one), made safe to log: control
 * characters, line and paragraph separators and bidirectional overrides become escapes, so one
 * log line stays one line and reads as written; long text is cut.
 */
final class PeerText {
    /** Characters of peer text a log line carries at most. */
    static final int MAX_CHARS = 300;

    private PeerText() {}

    /** {@code text} with every character that could forge or disguise a log line escaped. */
    static String escape(String text) {
        StringBuilder out = new StringBuilder(Math.min(text.length(), MAX_CHARS) + 16);
        int shown = Math.min(text.length(), MAX_CHARS);
        for (int i = 0; i < shown; i++) {
            char c = text.charAt(i);
            switch (c) {
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                case '\\' -> out.append("\\\\");
                default -> {
                    if (isUnsafe(c)) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        if (text.length() > shown) {
            out.append("…(").append(text.length() - shown).append(" more)");
        }
        return out.toString();
    }

    private static boolean isUnsafe(char c) {
        int type = Character.getType(c);
        return Character.isISOControl(c)
                || type == Character.LINE_SEPARATOR
                || type == Character.PARAGRAPH_SEPARATOR
                || type == Character.FORMAT
                || type == Character.SURROGATE
                || type == Character.UNASSIGNED;
    }
}
