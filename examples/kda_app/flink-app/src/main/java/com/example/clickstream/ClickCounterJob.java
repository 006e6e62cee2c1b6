package com.example.clickstream;

import com.amazonaws.services.kinesisanalytics.runtime.KinesisAnalyticsRuntime;
import java.time.Duration;
import java.util.Map;
import java.util.Properties;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.serialization.SimpleStringSchema;
import org.apache.flink.api.java.tuple.Tuple2;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.connector.kinesis.source.KinesisStreamsSource;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.windowing.assigners.TumblingProcessingTimeWindows;

/**
 * Counts clicks per page in tumbling windows. Reads the stream named by the property group
 * {@code InputStream} (set by KdaAppPipeline) and the window from {@code ClickCounter}.
 */
public final class ClickCounterJob {
    public static void main(String[] args) throws Exception {
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        Map<String, Properties> groups = KinesisAnalyticsRuntime.getApplicationProperties();
        Properties input = groups.get("InputStream");
        long windowSeconds = Long.parseLong(groups.get("ClickCounter").getProperty("window.seconds", "60"));

        KinesisStreamsSource<String> source = KinesisStreamsSource.<String>builder()
                .setStreamArn(input.getProperty("stream.arn"))
                .setSourceConfig(new Configuration())
                .setDeserializationSchema(new SimpleStringSchema())
                .build();

        env.fromSource(source, WatermarkStrategy.noWatermarks(), "clicks")
                .map(ClickParser::page)
                .filter(page -> page != null)
                .map(page -> Tuple2.of(page, 1L))
                .returns(Types.TUPLE(Types.STRING, Types.LONG))
                .keyBy(t -> t.f0)
                .window(TumblingProcessingTimeWindows.of(Duration.ofSeconds(windowSeconds)))
                .sum(1)
                .print();
        env.execute("clickstream click counter");
    }
}
