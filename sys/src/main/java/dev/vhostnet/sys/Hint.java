package dev.vhostnet.sys;

/** Maps the errno of a failed call to advice for the user, or {@code null} when there is none. */
@FunctionalInterface
public interface Hint {
    /** No advice. */
    Hint NONE = errno -> null;

    String forErrno(int errno);
}
