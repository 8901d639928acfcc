package broker

import (
	"errors"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// api is one implemented Kafka API: the versions we accept and the handler.
// Every handler file registers itself in init, so ApiVersions can never
// advertise something that is not implemented.
type api struct {
	key      int16
	name     string
	min, max int16
	handle   func(c *conn, req kmsg.Request) completion
}

var apis = map[int16]*api{}

func register(a api) {
	if _, dup := apis[a.key]; dup {
		panic("broker: API key registered twice: " + a.name)
	}
	apis[a.key] = &a
}

func lookupAPI(key int16) *api { return apis[key] }

// sortedAPIs lists the implemented APIs by key.
func sortedAPIs() []*api {
	out := make([]*api, 0, len(apis))
	for _, a := range apis {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out
}

var (
	errUnsupportedVersion = kerr.UnsupportedVersion.Code
	errInvalidRequest     = kerr.InvalidRequest.Code
)

// errorCode maps an error to its Kafka error code: a wrapped *kerr.Error
// keeps its code, anything else is UNKNOWN_SERVER_ERROR.
func errorCode(err error) int16 {
	if err == nil {
		return 0
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Code
	}
	return kerr.UnknownServerError.Code
}
