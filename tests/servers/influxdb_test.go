package servers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/api/write"

	"github.com/tributary/tributary/internal/testservers"
)

// TestInfluxDBWriteV2QueryInfluxQL writes points through the v2 write API
// (bucket "db/rp", as the InfluxDB sink will against 1.8) and reads them back
// with InfluxQL.
func TestInfluxDBWriteV2QueryInfluxQL(t *testing.T) {
	base := testservers.InfluxDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db := fmt.Sprintf("smoke_%d", time.Now().UnixNano())
	influxQL(t, ctx, base, http.MethodPost, "", "CREATE DATABASE "+db)

	client := influxdb2.NewClient(base, "user:pass") // 1.8 with auth off takes any token
	defer client.Close()
	writer := client.WriteAPIBlocking("", db+"/autogen")
	start := time.Unix(1_700_000_000, 0).UTC()
	var points []*write.Point
	for i := range 100 {
		points = append(points, influxdb2.NewPoint("cpu",
			map[string]string{"host": fmt.Sprintf("h%d", i%2)},
			map[string]any{"usage_idle": float64(i) + 0.5, "n": int64(i)},
			start.Add(time.Duration(i)*time.Second)))
	}
	if err := writer.WritePoint(ctx, points...); err != nil {
		t.Fatalf("v2 write to %s: %v", base, err)
	}

	got := influxQL(t, ctx, base, http.MethodGet, db, `SELECT "host", "n", "usage_idle" FROM "cpu" ORDER BY time`)
	var want [][]any
	for i := range 100 {
		want = append(want, []any{
			json.Number(fmt.Sprint(start.Add(time.Duration(i) * time.Second).UnixNano())),
			fmt.Sprintf("h%d", i%2), json.Number(fmt.Sprint(i)), json.Number(fmt.Sprintf("%v", float64(i)+0.5)),
		})
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("InfluxQL read back\n%v\nwant\n%v", got, want)
	}
}

// influxQL runs one statement over the 1.x HTTP API (/query, epoch=ns) and
// returns the rows of its only series.
func influxQL(t *testing.T, ctx context.Context, base, method, db, q string) [][]any {
	t.Helper()
	form := url.Values{"q": {q}, "db": {db}, "epoch": {"ns"}}
	var req *http.Request
	var err error
	if method == http.MethodPost {
		req, err = http.NewRequestWithContext(ctx, method, base+"/query", strings.NewReader(form.Encode()))
		if req != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	} else {
		req, err = http.NewRequestWithContext(ctx, method, base+"/query?"+form.Encode(), nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer resp.Body.Close()
	var body struct {
		Results []struct {
			Error  string `json:"error"`
			Series []struct {
				Values [][]any `json:"values"`
			} `json:"series"`
		} `json:"results"`
	}
	dec := json.NewDecoder(resp.Body)
	dec.UseNumber()
	if err := dec.Decode(&body); err != nil {
		t.Fatalf("%s: %s: decoding: %v", q, resp.Status, err)
	}
	if resp.StatusCode != http.StatusOK || len(body.Results) != 1 || body.Results[0].Error != "" {
		t.Fatalf("%s: %s: %+v", q, resp.Status, body)
	}
	if len(body.Results[0].Series) == 0 {
		return nil
	}
	return body.Results[0].Series[0].Values
}
