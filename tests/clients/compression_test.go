package clients_test

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestCompressionMatrix: every codec produced by every client is stored as
// that codec (checked on the raw batches) and read back exactly by both other
// clients, which must decompress what a different implementation compressed.
func TestCompressionMatrix(t *testing.T) {
	ctx := testContext(t, 120*time.Second)
	_, addr := startBroker(t)
	adm := newAdmin(t, addr)
	raw := newKgo(t, addr)
	const n, partitions = 600, 3

	for _, producer := range clients {
		for _, codec := range codecs {
			t.Run(producer.name+"/"+codec, func(t *testing.T) {
				t.Parallel() // mostly waiting on client timers; one broker serves all
				topic := fmt.Sprintf("codec-%s-%s", strings.ReplaceAll(producer.name, "-", ""), codec)
				createTopic(ctx, t, adm, topic, partitions, nil)
				acks := producer.produce(ctx, t, addr, topic, seqRange(0, n), produceOpts{codec: codec, acks: -1})
				checkCodec(ctx, t, raw, topic, partitions, codec)
				ends := endsOf(acks)
				for _, consumer := range clients {
					if consumer.name == producer.name {
						continue
					}
					t.Run("read-by-"+consumer.name, func(t *testing.T) {
						checkExact(t, acks, consumer.consume(ctx, t, addr, topic, ends), true)
					})
				}
			})
		}
	}
}
