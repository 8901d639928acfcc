package testservers

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
)

// influxdbConfig is influxd 1.8's configuration: everything on loopback,
// authentication off, no self-monitoring and no background jobs.
const influxdbConfig = `reporting-disabled = true
bind-address = "127.0.0.1:%[2]d"

[meta]
  dir = "%[1]s/meta"
  logging-enabled = false

[data]
  dir = "%[1]s/data"
  wal-dir = "%[1]s/wal"
  query-log-enabled = false

[monitor]
  store-enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:%[3]d"
  log-enabled = false
  flux-enabled = false

[continuous_queries]
  enabled = false

[logging]
  level = "warn"
`

// StartInfluxDB starts influxd 1.8.10 (.cache/bin/influxd) on a free loopback
// port with a fresh data directory, and returns once /ping answers. Stop it
// with Server.Stop.
func StartInfluxDB(ctx context.Context) (_ *Server, err error) {
	cache, err := cacheDir()
	if err != nil {
		return nil, err
	}
	influxd := filepath.Join(cache, "bin", "influxd")
	if err := requireFiles("InfluxDB", influxd); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "tributary-influxdb-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	httpPort, err := freePort()
	if err != nil {
		return nil, err
	}
	rpcPort, err := freePort()
	if err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "influxdb.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(influxdbConfig, dir, rpcPort, httpPort)), 0o644); err != nil {
		return nil, err
	}
	s, err := startProcess("InfluxDB", dir, influxd, "run", "-config", conf)
	if err != nil {
		return nil, err
	}
	s.Addr = fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	if err := waitReady(ctx, s, func(ctx context.Context) error {
		return httpStatus(ctx, s.Addr+"/ping", http.StatusNoContent)
	}); err != nil {
		return startFailed(s, err)
	}
	return s, nil
}

// httpStatus GETs url and checks the status code.
func httpStatus(ctx context.Context, url string, want int) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != want {
		return fmt.Errorf("GET %s: %s, want %d", url, resp.Status, want)
	}
	return nil
}
