package com.example.redshift;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The expectations of the post's merge_staged_products(), run against the test database after
 * Flyway migrated it. Connection details come from the build's environment (the target's secret).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class MergeStagedProductsTest {
    private Connection connection;

    @BeforeAll
    void loadTestData() throws SQLException {
        String url = String.format("jdbc:redshift://%s:%s/%s",
                System.getenv("REDSHIFT_HOST"), System.getenv("REDSHIFT_PORT"), System.getenv("REDSHIFT_DB_NAME"));
        connection = DriverManager.getConnection(url, System.getenv("REDSHIFT_USER"), System.getenv("REDSHIFT_PASSWORD"));
        try (Statement sql = connection.createStatement()) {
            sql.execute("truncate products");
            sql.execute("truncate products_staging");
            sql.execute("insert into products (product_name, price) values ('kayak', 500.00), ('paddle', 40.00)");
            sql.execute("insert into products_staging values ('kayak', 550.00), ('tent', 300.00)");
            sql.execute("call merge_staged_products()");
        }
    }

    @AfterAll
    void close() throws SQLException {
        connection.close();
    }

    private long count(String query) throws SQLException {
        try (Statement sql = connection.createStatement(); ResultSet rows = sql.executeQuery(query)) {
            rows.next();
            return rows.getLong(1);
        }
    }

    @Test
    void closesOneVersionPerStagedDuplicate() throws SQLException {
        assertEquals(1, count("select count(*) from products where status = 'CLOSED'"));
    }

    @Test
    void recordsWhenAVersionWasClosed() throws SQLException {
        assertEquals(0, count("select count(*) from products where status = 'CLOSED' and close_date is null"));
    }

    @Test
    void clearsTheStagingTable() throws SQLException {
        assertEquals(0, count("select count(*) from products_staging"));
    }
}
