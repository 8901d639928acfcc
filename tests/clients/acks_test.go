package clients_test

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestAcksLevels: acks=0, 1 and all from every client. With acks 1 and all
// the producer learns each record's offset and the log must hold exactly
// that; acks=0 gets no answer, so the test waits until the broker's end
// offsets account for every record, then reads them back exactly.
func TestAcksLevels(t *testing.T) {
	ctx := testContext(t, 90*time.Second)
	_, addr := startBroker(t)
	adm := newAdmin(t, addr)
	const n, partitions = 3000, 3

	for _, c := range clients {
		for _, acks := range []int{0, 1, -1} {
			t.Run(fmt.Sprintf("%s/acks=%d", c.name, acks), func(t *testing.T) {
				topic := fmt.Sprintf("acks-%s-%d", strings.ReplaceAll(c.name, "-", ""), acks+1)
				createTopic(ctx, t, adm, topic, partitions, nil)
				as := c.produce(ctx, t, addr, topic, seqRange(0, n), produceOpts{acks: acks})
				per := make(map[int32]int64)
				for _, a := range as {
					per[a.Partition]++
				}
				ends := per
				if acks != 0 {
					ends = endsOf(as)
					if !equalOffsets(ends, per) {
						t.Fatalf("producer was told offsets ending at %v for record counts %v", ends, per)
					}
				}
				if acks == -1 {
					// acks=all is answered once the records are below the
					// high watermark: readable at once.
					if got := listOffsets(ctx, t, adm, topic, false); !equalOffsets(got, ends) {
						t.Fatalf("acks=all: broker end offsets %v right after the acknowledgements, want %v", got, ends)
					}
				} else {
					// acks=0 gets no answer and acks=1 is answered once the
					// leader appended, before the high watermark covers the
					// records (here: before they are fsynced). Either way,
					// every record becomes readable soon after.
					waitFor(ctx, t, fmt.Sprintf("all acks=%d records to be readable", acks), func() (bool, error) {
						got, err := listOffsetsErr(ctx, adm, topic, false)
						return err == nil && equalOffsets(got, ends), err
					})
				}
				checkExact(t, as, clientNamed("kgo").consume(ctx, t, addr, topic, ends), acks != 0)
			})
		}
	}
}
