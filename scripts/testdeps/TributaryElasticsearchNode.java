// One real Elasticsearch node for the test suite, run by internal/testservers.
// The cluster runner's own main cannot take an HTTP port above 9299, so this
// main sets the port itself.
//
//   java -cp '.cache/elasticsearch/classes:.cache/elasticsearch/libs/*' \
//     TributaryElasticsearchNode BASE_DIR HTTP_PORT TRANSPORT_PORT
//
// The node is a single-node cluster with its own name: it never looks for,
// nor joins, the nodes of other test processes on this machine.
//
// It prints "started http://127.0.0.1:PORT" once the node runs (the caller
// waits for cluster health with its own deadline: the runner's ensureYellow
// gives up after 30 s, too soon on a loaded 2-core machine) and runs until it
// is killed (SIGTERM closes the node).

import org.codelibs.elasticsearch.runner.ElasticsearchClusterRunner;

public final class TributaryElasticsearchNode {
    public static void main(String[] args) throws Exception {
        if (args.length != 3) {
            System.err.println("usage: TributaryElasticsearchNode BASE_DIR HTTP_PORT TRANSPORT_PORT");
            System.exit(2);
        }
        String baseDir = args[0];
        int httpPort = Integer.parseInt(args[1]);
        String transportPort = args[2];
        ElasticsearchClusterRunner runner = new ElasticsearchClusterRunner();
        // A negative maximum makes the runner use exactly base + 1 instead of
        // moving silently to the next free port, which the caller would not know.
        runner.setMaxHttpPort(-1);
        runner.onBuild((number, settings) -> {
            settings.put("network.host", "127.0.0.1");
            settings.put("transport.port", transportPort);
            settings.put("discovery.type", "single-node");
            // A nearly full test disk must not make indices read-only.
            settings.put("cluster.routing.allocation.disk.threshold_enabled", "false");
            settings.put("action.auto_create_index", "true");
        });
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                runner.close();
            } catch (Exception e) {
                e.printStackTrace();
            }
        }));
        runner.build(ElasticsearchClusterRunner.newConfigs()
                .basePath(baseDir)
                .numOfNode(1)
                .baseHttpPort(httpPort - 1) // node 1 listens on base + 1
                .clusterName("tributary-test-" + httpPort)
                .printOnFailure());
        System.out.println("started http://127.0.0.1:" + httpPort);
        System.out.flush();
        Thread.currentThread().join();
    }
}
