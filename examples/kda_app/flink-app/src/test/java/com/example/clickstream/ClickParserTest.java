package com.example.clickstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import org.junit.jupiter.api.Test;

class ClickParserTest {
    @Test
    void readsThePage() {
        assertEquals("/home", ClickParser.page("user-1,/home"));
    }

    @Test
    void rejectsMalformedLines() {
        assertNull(ClickParser.page("no-comma"));
        assertNull(ClickParser.page("user-1,"));
        assertNull(ClickParser.page(null));
    }
}
