package testservers

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
)

// StartElasticsearch starts one real Elasticsearch 7.10.2 node (the
// org.codelibs cluster runner's jars in .cache/elasticsearch/libs, run by
// scripts/testdeps/TributaryElasticsearchNode.java) with Java 17 on a free
// loopback HTTP port and a fresh data directory, and returns once the cluster
// is at least yellow. It is a single-node cluster (discovery.type=single-node,
// a cluster name of its own, its transport on another free loopback port), so
// nodes of concurrent test processes never try to join each other. Stop it
// with Server.Stop.
func StartElasticsearch(ctx context.Context) (_ *Server, err error) {
	cache, err := cacheDir()
	if err != nil {
		return nil, err
	}
	libs := filepath.Join(cache, "elasticsearch", "libs")
	classes := filepath.Join(cache, "elasticsearch", "classes")
	if err := requireFiles("Elasticsearch",
		filepath.Join(libs, "elasticsearch-cluster-runner-*.jar"),
		filepath.Join(classes, "TributaryElasticsearchNode.class")); err != nil {
		return nil, err
	}
	java, err := javaPath("Elasticsearch")
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "tributary-elasticsearch-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	transportPort, err := freePort()
	if err != nil {
		return nil, err
	}
	s, err := startProcess("Elasticsearch", dir, java,
		"-Xms512m", "-Xmx1g", "-XX:+UseG1GC", "-Djava.awt.headless=true",
		"-cp", classes+string(os.PathListSeparator)+filepath.Join(libs, "*"),
		"TributaryElasticsearchNode", filepath.Join(dir, "node"), fmt.Sprint(port), fmt.Sprint(transportPort))
	if err != nil {
		return nil, err
	}
	s.Addr = fmt.Sprintf("http://127.0.0.1:%d", port)
	if err := waitReady(ctx, s, func(ctx context.Context) error {
		return httpStatus(ctx, s.Addr+"/_cluster/health?wait_for_status=yellow&timeout=4s", http.StatusOK)
	}); err != nil {
		return startFailed(s, err)
	}
	return s, nil
}
