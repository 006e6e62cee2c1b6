package com.example.clickstream;

/** Parses a click event line {@code "<user>,<page>"}; the unit-tested part of the job. */
public final class ClickParser {
    private ClickParser() {}

    /** Returns the page of a click event, or {@code null} for a malformed line. */
    public static String page(String line) {
        if (line == null) {
            return null;
        }
        String[] parts = line.split(",", -1);
        if (parts.length != 2 || parts[1].isBlank()) {
            return null;
        }
        return parts[1].trim();
    }
}
