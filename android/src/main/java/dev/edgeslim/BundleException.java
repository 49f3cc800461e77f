package dev.edgeslim;

/** A bundle that is missing, corrupt, truncated or not an edgeslim bundle; the message is one line naming the file
 * and what to do. */
public class BundleException extends Exception {
    private static final long serialVersionUID = 1L;

    public BundleException(String message) {
        super(message);
    }
}
