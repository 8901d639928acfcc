// Package kafka is the agent's output to the broker, or to any Kafka cluster:
// it produces records with segmentio/kafka-go, acks=all, keyed by host.
package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/compress"

	"github.com/tributary/tributary/agent"
)

// Options configure the output. Zero values take the defaults shown.
type Options struct {
	Brokers      []string // host:port of bootstrap brokers; required
	Topic        string   // default "metrics"
	Compression  string   // none, gzip, snappy, lz4 or zstd (default)
	BatchBytes   int      // largest produce request; default 1 MiB (message.max.bytes of a default broker)
	WriteTimeout time.Duration
	Logger       *slog.Logger
}

// Output writes agent records to a Kafka topic.
type Output struct {
	w *kafkago.Writer
}

var _ agent.Output = (*Output)(nil)

// New returns an output; it connects lazily, on the first Write.
func New(opts Options) (*Output, error) {
	if len(opts.Brokers) == 0 {
		return nil, errors.New("kafka output: no brokers")
	}
	if opts.Topic == "" {
		opts.Topic = "metrics"
	}
	if opts.Compression == "" {
		opts.Compression = "zstd"
	}
	if opts.BatchBytes <= 0 {
		opts.BatchBytes = 1 << 20
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = 10 * time.Second
	}
	codec, err := Codec(opts.Compression)
	if err != nil {
		return nil, err
	}
	w := &kafkago.Writer{
		Addr:         kafkago.TCP(opts.Brokers...),
		Topic:        opts.Topic,
		Balancer:     &kafkago.Hash{}, // key = host: a host's points stay in order in one partition
		RequiredAcks: kafkago.RequireAll,
		Compression:  codec,
		// The agent batches by size and time itself and hands whole batches
		// to Write; the writer only needs to send them at once.
		BatchSize:       1 << 20,
		BatchBytes:      int64(opts.BatchBytes),
		BatchTimeout:    5 * time.Millisecond,
		MaxAttempts:     3, // the agent retries further with its own backoff
		WriteBackoffMin: 50 * time.Millisecond,
		WriteBackoffMax: time.Second,
		ReadTimeout:     opts.WriteTimeout,
		WriteTimeout:    opts.WriteTimeout,
		// Our broker and Kafka's default both create topics on first use;
		// with auto-creation off, create the topic beforehand.
		AllowAutoTopicCreation: true,
	}
	if opts.Logger != nil {
		l := opts.Logger
		w.ErrorLogger = kafkago.LoggerFunc(func(msg string, args ...any) { l.Debug("kafka-go: " + fmt.Sprintf(msg, args...)) })
	}
	return &Output{w: w}, nil
}

// Codec maps a compression name to kafka-go's codec.
func Codec(name string) (kafkago.Compression, error) {
	switch name {
	case "none":
		return 0, nil
	case "gzip":
		return kafkago.Compression(compress.Gzip), nil
	case "snappy":
		return kafkago.Compression(compress.Snappy), nil
	case "lz4":
		return kafkago.Compression(compress.Lz4), nil
	case "zstd":
		return kafkago.Compression(compress.Zstd), nil
	}
	return 0, fmt.Errorf("kafka output: unknown compression %q (none, gzip, snappy, lz4, zstd)", name)
}

// Write implements agent.Output: it returns after every record was
// acknowledged by all in-sync replicas, or with the ones that were not.
func (o *Output) Write(ctx context.Context, records []agent.Record) error {
	msgs := make([]kafkago.Message, len(records))
	for i, r := range records {
		msgs[i] = kafkago.Message{Key: r.Key, Value: r.Value, Time: r.Time}
	}
	err := o.w.WriteMessages(ctx, msgs...)
	var we kafkago.WriteErrors
	if errors.As(err, &we) && len(we) == len(records) {
		pe := &agent.PartialError{}
		for i, e := range we {
			if e != nil {
				pe.Failed = append(pe.Failed, i)
				if pe.Err == nil {
					pe.Err = e
				}
			}
		}
		if len(pe.Failed) == 0 {
			return nil
		}
		return pe
	}
	if err != nil {
		return fmt.Errorf("kafka output: %w", err)
	}
	return nil
}

// Close implements agent.Output.
func (o *Output) Close() error { return o.w.Close() }
