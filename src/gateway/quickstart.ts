/**
 * The embedded quickstart config: what `clawpatrol gateway` runs when given
 * no config. Everything stays on this machine: state in `./.clawpatrol`,
 * the info listener on 127.0.0.1:8080, and one local proxy (SOCKS5 and HTTP
 * CONNECT) on 127.0.0.1:1080 as the transport. It is written to
 * `./.clawpatrol/gateway.hcl` on first use so it can be edited (and is
 * hot-reloaded) from then on.
 */
export const QUICKSTART_HCL = `# Claw Patrol quickstart config — written by \`clawpatrol gateway\` on first run.
# Edit it freely: policy blocks reload on save (or on SIGHUP).
#
# Try it:
#   curl -s http://127.0.0.1:8080/ca.crt > /tmp/clawpatrol-ca.crt
#   export CLAWPATROL_SECRET_GITHUB=<a real GitHub token>   # before starting the gateway
#   curl --proxy socks5h://127.0.0.1:1080 --cacert /tmp/clawpatrol-ca.crt \\
#        -H "Authorization: Bearer PLACEHOLDER" https://api.github.com/user
schema_version = 1

gateway {
  state_dir        = ".clawpatrol"
  dashboard_listen = "127.0.0.1:8080"

  # One local port for SOCKS5 (remote DNS) and HTTP CONNECT. No
  # authentication: keep it on loopback.
  proxy {
    listen  = "127.0.0.1:1080"
    profile = "default"
  }
}

defaults {
  unknown_host = "passthrough"
}

endpoint "https" "github" {
  hosts = ["api.github.com"]
}

# The real token comes from the secret store or CLAWPATROL_SECRET_GITHUB;
# agents only ever send a placeholder.
credential "bearer_token" "github" {
  endpoint = https.github
}

rule "github-reads" {
  endpoint  = https.github
  condition = "http.method in ['GET', 'HEAD']"
  verdict   = "allow"
}

rule "github-writes" {
  endpoint  = https.github
  condition = "http.method in ['POST', 'PUT', 'PATCH', 'DELETE']"
  verdict   = "deny"
  reason    = "writes to GitHub are not allowed from this gateway"
}

profile "default" {
  credentials = [bearer_token.github]
}
`;
