package servers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/tributary/tributary/internal/testservers"
)

// productHeader lets go-elasticsearch v8 talk to a cluster that does not send
// "X-Elastic-Product: Elasticsearch" (Elasticsearch before 7.14, OpenSearch):
// the v8 client refuses the first successful response without it ("the client
// noticed that the server is not Elasticsearch..."), and has no setting to
// skip that check. The client's compatibility mode (EnableCompatibilityMode,
// which sends "compatible-with=8" media types) must stay off for 7.x, which
// does not know those media types.
type productHeader struct{ next http.RoundTripper }

func (p productHeader) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := p.next.RoundTrip(req)
	if err == nil && resp.Header.Get("X-Elastic-Product") == "" {
		resp.Header.Set("X-Elastic-Product", "Elasticsearch")
	}
	return resp, err
}

// TestElasticsearchIndexAndSearch indexes documents with go-elasticsearch v8
// and finds them again by search and by id.
func TestElasticsearchIndexAndSearch(t *testing.T) {
	base := testservers.Elasticsearch(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	es, err := elasticsearch.NewClient(elasticsearch.Config{
		Addresses: []string{base},
		Transport: productHeader{next: http.DefaultTransport},
	})
	if err != nil {
		t.Fatal(err)
	}

	var info struct {
		Version struct{ Number string } `json:"version"`
	}
	esDecode(t, &info)(esapi.InfoRequest{}.Do(ctx, es))
	if !strings.HasPrefix(info.Version.Number, "7.") {
		t.Fatalf("Elasticsearch version %q, want 7.x", info.Version.Number)
	}

	index := fmt.Sprintf("smoke-%d", time.Now().UnixNano())
	docs := map[string]string{
		"logs-0-1": `{"@timestamp":"2026-11-25T03:00:00Z","message":"hello","host":{"name":"h1"}}`,
		"logs-0-2": `{"@timestamp":"2026-11-25T03:00:01Z","message":"world","host":{"name":"h2"}}`,
	}
	for id, doc := range docs {
		var indexed struct{ Result string }
		esDecode(t, &indexed)(esapi.IndexRequest{
			Index: index, DocumentID: id, Body: strings.NewReader(doc), Refresh: "true",
		}.Do(ctx, es))
		if indexed.Result != "created" {
			t.Fatalf("indexing %s: result %q, want created", id, indexed.Result)
		}
	}

	type hit struct {
		ID     string         `json:"_id"`
		Source map[string]any `json:"_source"`
	}
	var found struct {
		Hits struct {
			Total struct{ Value int } `json:"total"`
			Hits  []hit               `json:"hits"`
		} `json:"hits"`
	}
	esDecode(t, &found)(esapi.SearchRequest{
		Index: []string{index},
		Body:  strings.NewReader(`{"query":{"match":{"message":"world"}}}`),
	}.Do(ctx, es))
	var source map[string]any
	_ = json.Unmarshal([]byte(docs["logs-0-2"]), &source)
	want := []hit{{ID: "logs-0-2", Source: source}}
	if found.Hits.Total.Value != 1 || !reflect.DeepEqual(found.Hits.Hits, want) {
		t.Fatalf("search found %+v, want %+v", found.Hits, want)
	}

	var count struct{ Count int }
	esDecode(t, &count)(esapi.CountRequest{Index: []string{index}}.Do(ctx, es))
	if count.Count != len(docs) {
		t.Fatalf("count %d, want %d", count.Count, len(docs))
	}
}

// esDecode returns a function that checks an esapi call's answer is a 2xx and
// decodes its body into out.
func esDecode(t *testing.T, out any) func(*esapi.Response, error) {
	return func(resp *esapi.Response, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("elasticsearch: %v", err)
		}
		defer resp.Body.Close()
		if resp.IsError() {
			t.Fatalf("elasticsearch: %s", resp.String())
		}
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("elasticsearch: decoding %s: %v", resp.Status(), err)
		}
	}
}
