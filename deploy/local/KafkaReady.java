// Readiness probe of the local test broker for machines without a Python that has aiokafka:
// succeeds once Kafka's own Java admin client reads cluster metadata listing a broker.
// kafka.sh runs it with the JDK's single-file source launcher on the broker's classpath:
//     java -cp '.cache/kafka-<version>/libs/*' KafkaReady.java 127.0.0.1:9092 10
// Exit 0 when ready, 1 when still not ready after the given number of seconds.

import java.util.Collection;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.common.Node;

public final class KafkaReady {
    private static final int ATTEMPT_TIMEOUT_MS = 5000;
    private static final long RETRY_PAUSE_MS = 300;

    private KafkaReady() {}

    public static void main(String[] args) throws InterruptedException {
        if (args.length != 2) {
            System.err.println("usage: KafkaReady.java HOST:PORT TIMEOUT_SECONDS");
            System.exit(2);
        }
        String bootstrap = args[0];
        double timeoutSeconds = Double.parseDouble(args[1]);
        long deadline = System.nanoTime() + (long) (timeoutSeconds * 1e9);

        Properties props = new Properties();
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(AdminClientConfig.CLIENT_ID_CONFIG, "local-kafka-ready");
        props.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, ATTEMPT_TIMEOUT_MS);
        props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, ATTEMPT_TIMEOUT_MS);
        try (Admin admin = Admin.create(props)) {
            while (true) {
                try {
                    DescribeClusterResult cluster = admin.describeCluster();
                    Collection<Node> nodes = cluster.nodes().get(ATTEMPT_TIMEOUT_MS, TimeUnit.MILLISECONDS);
                    if (!nodes.isEmpty()) {
                        String id = cluster.clusterId().get(ATTEMPT_TIMEOUT_MS, TimeUnit.MILLISECONDS);
                        System.out.println("cluster " + id + ": " + nodes.size() + " broker(s)");
                        return;
                    }
                } catch (Exception notReadyYet) {
                    // Refused connections and timeouts are expected while the broker boots.
                }
                if (System.nanoTime() >= deadline) {
                    System.err.println("no metadata from " + bootstrap + " within " + args[1] + "s");
                    System.exit(1);
                }
                Thread.sleep(RETRY_PAUSE_MS);
            }
        }
    }
}
