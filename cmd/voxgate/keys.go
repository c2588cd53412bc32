package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"
	"time"

	"voxgate"
	"voxgate/service"
)

func runKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	sub, args, err := subcommand("keys", []string{"create", "list", "revoke"}, args, stdout)
	if err != nil {
		return err
	}
	fs := newFlags("keys "+sub, stdout)
	data := fs.String("data", envOr("VOXGATE_DATA", "./data"), "data `DIR` (env VOXGATE_DATA)")
	storeURL := fs.String("store", envOr("VOXGATE_STORE", ""), storeFlagUsage)
	tenant := fs.String("tenant", "", "tenant `NAME` (or ID)")
	asJSON := fs.Bool("json", false, "print JSON")
	var scope, label, id string
	var ttl time.Duration
	switch sub {
	case "create":
		fs.StringVar(&scope, "scope", "admin", "key scope: admin or verify")
		fs.StringVar(&label, "label", "", "a note to recognise the key by")
		fs.DurationVar(&ttl, "ttl", 0, "expire the key after this long (0: never)")
	case "list":
	case "revoke":
		fs.StringVar(&id, "id", "", "the key `ID` to revoke")
	}
	if err := parse(fs, args); err != nil {
		if errors.Is(err, errHelp) {
			return nil
		}
		return err
	}
	if *tenant == "" {
		return usagef("keys "+sub, "--tenant is required")
	}
	db, err := openStore(ctx, *storeURL, *data)
	if err != nil {
		return err
	}
	defer db.Close()
	svc := service.New(db, service.Options{Logger: slog.New(slog.DiscardHandler)})

	switch sub {
	case "create":
		nk, err := svc.CreateKey(ctx, *tenant, voxgate.Scope(scope), label, ttl)
		if err != nil {
			return errors.New(voxgate.ErrorMessage(err))
		}
		if *asJSON {
			return json.NewEncoder(stdout).Encode(map[string]any{
				"key": nk.Key, "tenant": nk.Tenant.Name, "tenant_id": nk.Tenant.ID,
				"scope": nk.Record.Scope, "id": nk.Record.ID, "expires_at": nk.Record.ExpiresAt,
			})
		}
		fmt.Fprintf(stdout, "%s\n", nk.Key)
		fmt.Fprintf(stderr, "created %s key %s for tenant %s (%s); it is shown only once.\n", nk.Record.Scope, nk.Record.ID, nk.Tenant.Name, nk.Tenant.ID)
		return nil
	case "list":
		t, keys, err := svc.ListKeys(ctx, *tenant)
		if err != nil {
			return errors.New(voxgate.ErrorMessage(err))
		}
		if *asJSON {
			if keys == nil {
				keys = []*voxgate.APIKey{}
			}
			return json.NewEncoder(stdout).Encode(map[string]any{"tenant": t.Name, "tenant_id": t.ID, "keys": keys})
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tSCOPE\tCREATED\tSTATE\tLABEL")
		now := time.Now()
		for _, k := range keys {
			state := "active"
			if k.RevokedAt != nil {
				state = "revoked"
			} else if !k.Active(now) {
				state = "expired"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.ID, k.Scope, k.CreatedAt.Format(time.RFC3339), state, k.Label)
		}
		return tw.Flush()
	default: // revoke
		if id == "" && fs.NArg() == 1 {
			id = fs.Arg(0)
		}
		if id == "" {
			return usagef("keys revoke", "--id is required")
		}
		if err := svc.RevokeKey(ctx, *tenant, id); err != nil {
			return errors.New(voxgate.ErrorMessage(err))
		}
		if *asJSON {
			return json.NewEncoder(stdout).Encode(map[string]any{"revoked": id})
		}
		fmt.Fprintf(stdout, "revoked %s\n", id)
		return nil
	}
}
