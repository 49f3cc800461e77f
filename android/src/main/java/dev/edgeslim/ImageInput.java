package dev.edgeslim;

/** A camera frame or Bitmap turned into a bundle's model input, as {@code edgeslim.device.preprocess}: pixels
 * scaled to [0, 1], resized (nearest), channels matched (grey: the mean of R, G, B; other than 1 or 3: R repeated), standardized with the manifest's
 * mean and std, laid out as the artifact takes it (NCHW or NHWC). */
public final class ImageInput {
    private ImageInput() {}

    /** {@code argb}: row-major ARGB pixels, as {@code Bitmap.getPixels} gives them; {@code layout}: the artifact's
     * ({@link Manifest.Artifact#layout()}). Returns the float32 input, batch 1. */
    public static float[] fromArgb(int[] argb, int width, int height, Manifest.Input input, String layout) {
        if (argb.length != width * height) {
            throw new IllegalArgumentException(argb.length + " pixels for a " + width + "x" + height + " image");
        }
        int channels = input.shape()[1];
        int rows = input.shape()[2];
        int cols = input.shape()[3];
        boolean nhwc = layout.equals("NHWC");
        float[] out = new float[channels * rows * cols];
        float scale = (float) (1 / 255.0);
        for (int r = 0; r < rows; r++) {
            int y = (int) ((long) r * height / (double) rows);
            for (int c = 0; c < cols; c++) {
                int x = (int) ((long) c * width / (double) cols);
                int pixel = argb[y * width + x];
                float red = ((pixel >> 16) & 0xff) * scale;
                float green = ((pixel >> 8) & 0xff) * scale;
                float blue = (pixel & 0xff) * scale;
                for (int k = 0; k < channels; k++) {
                    float v = channels == 1 ? (red + green + blue) / 3f
                            : channels == 3 ? (k == 0 ? red : k == 1 ? green : blue) : red;
                    v = (v - input.mean()[k]) / input.std()[k];
                    out[nhwc ? (r * cols + c) * channels + k : (k * rows + r) * cols + c] = v;
                }
            }
        }
        return out;
    }
}
