package libmachine

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/fleetdock/machine/certs"
	"github.com/fleetdock/machine/libmachine/host"
)

// DockerVersion asks the machine's Docker API for its version over TLS with
// the client certificate.
func (c *Client) DockerVersion(ctx context.Context, h *host.Host) (string, error) {
	_, addr, err := dockerAddr(h)
	if err != nil {
		return "", err
	}
	return c.dockerVersion(ctx, h, addr)
}

// DockerVersionAt is DockerVersion at the Docker URL rawURL the caller
// already has (from GetURL or a fleet answer), so the driver is not asked
// again.
func (c *Client) DockerVersionAt(ctx context.Context, h *host.Host, rawURL string) (string, error) {
	addr, err := urlAddr(h, rawURL)
	if err != nil {
		return "", err
	}
	return c.dockerVersion(ctx, h, addr)
}

func (c *Client) dockerVersion(ctx context.Context, h *host.Host, addr string) (string, error) {
	a := h.HostOptions.AuthOptions
	tlsCfg, err := certs.ClientTLSConfig(a.CaCertPath, a.ClientCertPath, a.ClientKeyPath)
	if err != nil {
		return "", err
	}
	client := &http.Client{
		Transport: &http.Transport{TLSClientConfig: tlsCfg, Proxy: http.ProxyFromEnvironment},
		Timeout:   20 * time.Second,
	}
	defer client.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+addr+"/version", nil)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("Docker API of %q answered %s", h.Name, resp.Status)
	}
	var v struct{ Version string }
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return "", fmt.Errorf("decoding the Docker version of %q: %w", h.Name, err)
	}
	return v.Version, nil
}
