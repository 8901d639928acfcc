// Command broker-bench measures a Kafka-protocol broker with a franz-go
// client: produce records/s and MB/s with p50/p99 produce latency, consume
// MB/s, and the broker process's peak RSS. It runs each broker as a separate
// process so RSS is the broker's own, and can run a peer broker in the same
// invocation for a side-by-side comparison.
//
//	go run ./bench/broker                       # Tributary and the kfake peer, 3 runs each
//	go run ./bench/broker -brokers tributary -runs 5 -duration 20s
//	go run ./bench/broker -rate 200             # offered load of 200 MB/s (latency under load)
//
// Results are printed as a Markdown table to paste into docs/benchmarks.md.
package main

import (
	"bufio"
	"context"
	crand "crypto/rand"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

var (
	flagBrokers   = flag.String("brokers", "tributary,kfake", "comma-separated brokers to measure: tributary, kfake, or host:port of a running broker")
	flagRuns      = flag.Int("runs", 3, "runs per broker; medians are reported")
	flagDuration  = flag.Duration("duration", 10*time.Second, "produce phase length per run")
	flagRecord    = flag.Int("record-size", 1024, "record value size in bytes")
	flagParts     = flag.Int("partitions", 6, "partitions of the benchmark topic")
	flagProducers = flag.Int("producers", 1, "producer clients")
	flagInflight  = flag.Int("inflight", 1, "max produce requests in flight per broker connection (kgo MaxProduceRequestsInflightPerBroker; >1 needs -idempotent=false in kgo)")
	flagIdem      = flag.Bool("idempotent", true, "idempotent producer (franz-go default)")
	flagRate      = flag.Float64("rate", 0, "offered load in MB/s across producers (0 = as fast as possible)")
	flagLinger    = flag.Duration("linger", 0, "producer linger")
	flagKeep      = flag.Bool("keep", false, "keep the data directories")
	flagCodec     = flag.String("compression", "none", "producer compression: none, gzip, snappy, lz4, zstd (values are random, so incompressible)")
	flagServeFake = flag.Bool("serve-kfake", false, "internal: run a kfake broker and print its address")
)

type result struct {
	broker             string
	records            int64
	produceMBs, recsPS float64
	p50, p99           time.Duration
	consumeMBs         float64
	peakRSSMB          float64
}

func main() {
	flag.Parse()
	if *flagServeFake {
		serveKfake()
		return
	}
	var all [][]result
	for _, b := range strings.Split(*flagBrokers, ",") {
		var runs []result
		for i := 0; i < *flagRuns; i++ {
			r, err := runOnce(strings.TrimSpace(b))
			if err != nil {
				fmt.Fprintf(os.Stderr, "%s run %d: %v\n", b, i+1, err)
				os.Exit(1)
			}
			fmt.Fprintf(os.Stderr, "%s run %d: produce %.0f MB/s (%.0f rec/s) p50 %v p99 %v, consume %.0f MB/s, peak RSS %.0f MB\n",
				b, i+1, r.produceMBs, r.recsPS, r.p50, r.p99, r.consumeMBs, r.peakRSSMB)
			runs = append(runs, r)
		}
		all = append(all, runs)
	}
	fmt.Printf("\n%d runs each, %d-byte random records, compression %s, %d partitions, acks=all, %d producer(s), idempotent=%v, inflight=%d, rate=%s, %s per run, GOMAXPROCS=%d\n\n",
		*flagRuns, *flagRecord, *flagCodec, *flagParts, *flagProducers, *flagIdem, *flagInflight, rateString(), *flagDuration, runtime.GOMAXPROCS(0))
	fmt.Println("| broker | produce MB/s | produce rec/s | p50 latency | p99 latency | consume MB/s | peak RSS MB |")
	fmt.Println("| --- | --- | --- | --- | --- | --- | --- |")
	for _, runs := range all {
		m := func(f func(result) float64) float64 {
			v := make([]float64, len(runs))
			for i, r := range runs {
				v[i] = f(r)
			}
			sort.Float64s(v)
			return v[len(v)/2]
		}
		fmt.Printf("| %s | %.0f | %.0f | %.1f ms | %.1f ms | %.0f | %.0f |\n", runs[0].broker,
			m(func(r result) float64 { return r.produceMBs }), m(func(r result) float64 { return r.recsPS }),
			m(func(r result) float64 { return float64(r.p50.Microseconds()) / 1000 }),
			m(func(r result) float64 { return float64(r.p99.Microseconds()) / 1000 }),
			m(func(r result) float64 { return r.consumeMBs }), m(func(r result) float64 { return r.peakRSSMB }))
	}
}

func rateString() string {
	if *flagRate <= 0 {
		return "unlimited"
	}
	return fmt.Sprintf("%.0f MB/s", *flagRate)
}

// brokerProc is a broker running as a child process.
type brokerProc struct {
	cmd  *exec.Cmd
	addr string
	dir  string
}

func startBroker(kind string) (*brokerProc, error) {
	var cmd *exec.Cmd
	dir := ""
	switch kind {
	case "tributary":
		bin, err := buildTributary()
		if err != nil {
			return nil, err
		}
		dir, err = os.MkdirTemp("", "tributary-bench-")
		if err != nil {
			return nil, err
		}
		cmd = exec.Command(bin, "broker", "--listen", "127.0.0.1:0", "--data-dir", dir, "--metrics-listen", "", "--log-level", "warn")
	case "kfake":
		self, err := os.Executable()
		if err != nil {
			return nil, err
		}
		cmd = exec.Command(self, "-serve-kfake")
	default:
		return &brokerProc{addr: kind}, nil // an already running broker
	}
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if i := strings.LastIndex(sc.Text(), "listening on "); i >= 0 {
				addrc <- strings.TrimSpace(sc.Text()[i+len("listening on "):])
			}
		}
	}()
	select {
	case addr := <-addrc:
		return &brokerProc{cmd: cmd, addr: addr, dir: dir}, nil
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		return nil, fmt.Errorf("%s did not start within 30s", kind)
	}
}

// peakRSSMB reads VmHWM (peak resident set) of the broker process.
func (b *brokerProc) peakRSSMB() float64 {
	if b.cmd == nil {
		return 0
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", b.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			f := strings.Fields(line)
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

func (b *brokerProc) stop() {
	if b.cmd != nil {
		b.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { b.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			b.cmd.Process.Kill()
		}
	}
	if b.dir != "" && !*flagKeep {
		os.RemoveAll(b.dir)
	}
}

var (
	buildOnce sync.Once
	buildBin  string
	buildErr  error
)

func buildTributary() (string, error) {
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "tributary-bench-bin-")
		if err != nil {
			buildErr = err
			return
		}
		buildBin = filepath.Join(dir, "tributary")
		cmd := exec.Command("go", "build", "-o", buildBin, "./cmd/tributary")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		buildErr = cmd.Run()
	})
	return buildBin, buildErr
}

func runOnce(kind string) (result, error) {
	b, err := startBroker(kind)
	if err != nil {
		return result{}, err
	}
	defer b.stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	topic := fmt.Sprintf("bench-%d", time.Now().UnixNano())
	admin, err := kgo.NewClient(kgo.SeedBrokers(b.addr))
	if err != nil {
		return result{}, err
	}
	adm := kadm.NewClient(admin)
	if _, err := adm.CreateTopic(ctx, int32(*flagParts), 1, nil, topic); err != nil {
		return result{}, fmt.Errorf("create topic: %w", err)
	}
	admin.Close()

	res := result{broker: kind}
	var latMu sync.Mutex
	var lats []time.Duration
	var produced, failed atomic.Int64
	// Incompressible values: each record takes a window of a random pool,
	// so compression cannot shrink what reaches the disk.
	pool := make([]byte, 1<<20+*flagRecord)
	crand.Read(pool)
	codec, err := codecFor(*flagCodec)
	if err != nil {
		return result{}, err
	}

	start := time.Now()
	var wg sync.WaitGroup
	for p := 0; p < *flagProducers; p++ {
		opts := []kgo.Opt{
			kgo.SeedBrokers(b.addr), kgo.DefaultProduceTopic(topic),
			kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerBatchMaxBytes(1 << 20),
			kgo.MaxBufferedRecords(1 << 16), kgo.ProducerLinger(*flagLinger),
			kgo.RecordPartitioner(kgo.RoundRobinPartitioner()),
			kgo.ProducerBatchCompression(codec),
		}
		if !*flagIdem {
			opts = append(opts, kgo.DisableIdempotentWrite(), kgo.MaxProduceRequestsInflightPerBroker(*flagInflight))
		}
		cl, err := kgo.NewClient(opts...)
		if err != nil {
			return result{}, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer cl.Close()
			var local []time.Duration
			deadline := start.Add(*flagDuration)
			perProducer := *flagRate * 1e6 / float64(*flagProducers) / float64(*flagRecord) // records/s
			var sent int64
			for time.Now().Before(deadline) {
				if perProducer > 0 {
					due := start.Add(time.Duration(float64(sent) / perProducer * float64(time.Second)))
					if d := time.Until(due); d > 0 {
						time.Sleep(d) // pacing the offered load, not synchronisation
					}
				}
				t0 := time.Now()
				sample := sent%16 == 0
				off := int(sent*7919) % (len(pool) - *flagRecord)
				cl.Produce(ctx, &kgo.Record{Value: pool[off : off+*flagRecord]}, func(_ *kgo.Record, err error) {
					if err != nil {
						failed.Add(1)
						return
					}
					produced.Add(1)
					if sample {
						local = append(local, time.Since(t0))
					}
				})
				sent++
			}
			cl.Flush(ctx)
			latMu.Lock()
			lats = append(lats, local...)
			latMu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if failed.Load() > 0 {
		return result{}, fmt.Errorf("%d produce errors", failed.Load())
	}
	res.records = produced.Load()
	res.recsPS = float64(res.records) / elapsed.Seconds()
	res.produceMBs = res.recsPS * float64(*flagRecord) / 1e6
	sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
	if len(lats) > 0 {
		res.p50 = lats[len(lats)/2]
		res.p99 = lats[len(lats)*99/100]
	}

	// Consume everything back from the start.
	cons, err := kgo.NewClient(kgo.SeedBrokers(b.addr), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxBytes(64<<20), kgo.FetchMaxPartitionBytes(16<<20))
	if err != nil {
		return result{}, err
	}
	defer cons.Close()
	var got int64
	var bytes int64
	cstart := time.Now()
	for got < res.records {
		fs := cons.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return result{}, fmt.Errorf("consumed %d of %d records: %w", got, res.records, err)
		}
		fs.EachError(func(t string, p int32, err error) { fmt.Fprintf(os.Stderr, "fetch %s/%d: %v\n", t, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			got++
			bytes += int64(len(r.Value))
		})
	}
	res.consumeMBs = float64(bytes) / time.Since(cstart).Seconds() / 1e6
	res.peakRSSMB = b.peakRSSMB()
	return res, nil
}

func codecFor(name string) (kgo.CompressionCodec, error) {
	switch name {
	case "none":
		return kgo.NoCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	}
	return kgo.NoCompression(), fmt.Errorf("unknown compression %q", name)
}

// serveKfake runs franz-go's kfake broker (in memory) as the peer.
func serveKfake() {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("kfake listening on %s\n", c.ListenAddrs()[0])
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	c.Close()
}
