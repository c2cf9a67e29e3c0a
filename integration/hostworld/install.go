package hostworld

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

//go:embed install.sh
var installScript string

// ServeInstallScript serves the Docker install script on the docker bridge
// gateway (the one address of this machine that hosts reach), on a free
// port. url is what a provisioner pipes to sh; stop shuts the server down.
func ServeInstallScript(ctx context.Context) (url string, stop func(), err error) {
	gw, err := GatewayIP(ctx)
	if err != nil {
		return "", nil, fmt.Errorf("serving the install script: %w", err)
	}
	return serveInstallScript(ctx, net.JoinHostPort(gw, "0"))
}

func serveInstallScript(ctx context.Context, addr string) (string, func(), error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("serving the install script on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /install.sh", func(w http.ResponseWriter, r *http.Request) {
		slog.Debug("hostworld: install script fetched", "from", r.RemoteAddr)
		w.Header().Set("Content-Type", "text/x-shellscript; charset=utf-8")
		_, _ = w.Write([]byte(installScript))
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			slog.Error("hostworld: install script server stopped", "addr", ln.Addr().String(), "err", err)
		}
	}()
	stop := func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}
	return "http://" + ln.Addr().String() + "/install.sh", stop, nil
}
