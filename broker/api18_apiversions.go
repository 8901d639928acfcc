package broker

// ApiVersions, versions 0-3.
//
// Lists exactly the APIs registered by the handler files. A request for a
// version we do not support is answered in v0 with UNSUPPORTED_VERSION and
// our list, so the client can downgrade (KIP-511). The response header is
// always the v0 header, even for flexible versions.

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

const apiVersionsKey = 18

func init() {
	register(api{key: apiVersionsKey, name: "ApiVersions", min: 0, max: 3, handle: handleAPIVersions})
}

func handleAPIVersions(c *conn, req kmsg.Request) completion {
	return done(apiVersionsResponse(req.GetVersion(), 0))
}

func apiVersionsResponse(version int16, code int16) *kmsg.ApiVersionsResponse {
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.SetVersion(version)
	resp.ErrorCode = code
	for _, a := range sortedAPIs() {
		k := kmsg.NewApiVersionsResponseApiKey()
		k.ApiKey, k.MinVersion, k.MaxVersion = a.key, a.min, a.max
		resp.ApiKeys = append(resp.ApiKeys, k)
	}
	return resp
}
