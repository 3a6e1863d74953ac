package dev.vhostnet.broker;

import java.io.IOException;

/** The broker refused a request: its error code and message. */
public final class BrokerException extends IOException {
    private static final long serialVersionUID = 1L;

    private final BrokerReply.Code code;

    public BrokerException(BrokerReply.Code code, String message) {
        super("broker refused (" + code + "): " + message);
        this.code = code;
    }

    public BrokerReply.Code code() {
        return code;
    }
}
