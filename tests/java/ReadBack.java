import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Properties;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads files the way the JVM-side consumers of nudge-build's output do, for tests/test_formats.py.
 *
 * <p>{@code java ReadBack.java MODE:FILE...}. Mode {@code properties}: {@code
 * Properties.load(InputStream)}, as Gradle loads gradle.properties (ISO-8859-1). Mode {@code
 * dotenv}: the line regex of react-native-config's android/dotenv.gradle, applied to {@code
 * BufferedReader.readLine()} lines as Groovy's {@code eachLine} does.
 *
 * <p>Output, per file: {@code FILE name}, then {@code ERROR message} or one {@code key<TAB>value}
 * line per entry. Keys and values are JSON string bodies: everything outside printable ASCII, and
 * {@code "} and {@code \}, is written as a UTF-16 {@code \}{@code uXXXX} escape.
 */
public class ReadBack {
    // Verbatim from android/dotenv.gradle (lugg/react-native-config).
    private static final Pattern DOTENV_LINE =
            Pattern.compile("^\\s*(?:export\\s+|)([\\w\\d\\.\\-_]+)\\s*=\\s*['\"]?(.*?)?['\"]?\\s*$");

    public static void main(String[] args) throws IOException {
        for (String arg : args) {
            String mode = arg.substring(0, arg.indexOf(':'));
            Path path = Paths.get(arg.substring(mode.length() + 1));
            System.out.println("FILE " + path.getFileName());
            if (mode.equals("properties")) {
                properties(path);
            } else {
                dotenv(path);
            }
        }
    }

    private static void properties(Path path) throws IOException {
        Properties properties = new Properties();
        try (InputStream in = Files.newInputStream(path)) {
            properties.load(in);
        } catch (IllegalArgumentException e) {
            System.out.println("ERROR " + e.getMessage());
            return;
        }
        for (String key : new TreeSet<>(properties.stringPropertyNames())) {
            System.out.println(escape(key) + "\t" + escape(properties.getProperty(key)));
        }
    }

    private static void dotenv(Path path) throws IOException {
        try (BufferedReader reader = Files.newBufferedReader(path, StandardCharsets.UTF_8)) {
            String line;
            while ((line = reader.readLine()) != null) {
                Matcher matcher = DOTENV_LINE.matcher(line);
                if (matcher.find()) {
                    String value = matcher.group(2);
                    System.out.println(escape(matcher.group(1)) + "\t" + escape(value == null ? "" : value));
                }
            }
        }
    }

    private static String escape(String text) {
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c >= 0x20 && c <= 0x7e && c != '"' && c != '\\') {
                out.append(c);
            } else {
                out.append(String.format("\\u%04x", (int) c));
            }
        }
        return out.toString();
    }
}
