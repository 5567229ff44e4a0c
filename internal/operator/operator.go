// Package operator assembles the operator on a controller-runtime manager: the cache
// indexes, the session store, the reconciler, the REST server and its refresher, configured by
// Options, which the manager's flags set. cmd/main.go and the tests share it, so that the tests
// run exactly what ships.
package operator

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"

	"github.com/contentlib/update-session-operator/api/v1alpha1"
	"github.com/contentlib/update-session-operator/controllers"
	"github.com/contentlib/update-session-operator/internal/auth"
	"github.com/contentlib/update-session-operator/internal/complete"
	"github.com/contentlib/update-session-operator/internal/content"
	"github.com/contentlib/update-session-operator/internal/events"
	"github.com/contentlib/update-session-operator/internal/index"
	"github.com/contentlib/update-session-operator/internal/login"
	"github.com/contentlib/update-session-operator/internal/metrics"
	"github.com/contentlib/update-session-operator/internal/refresh"
	"github.com/contentlib/update-session-operator/internal/rest"
	"github.com/contentlib/update-session-operator/internal/store"
	"github.com/contentlib/update-session-operator/internal/transfer"
)

// CacheOptions are the manager's cache options base with what the operator needs of its
// cache: sessions trimmed to what the operator reads (see store.Trim), any other object without
// managedFields. cmd/main.go and the tests share them.
func CacheOptions(base cache.Options) cache.Options {
	base.DefaultTransform = cache.TransformStripManagedFields()
	byObject := make(map[client.Object]cache.ByObject, len(base.ByObject)+1)
	for obj, by := range base.ByObject {
		byObject[obj] = by
	}
	byObject[&v1alpha1.UpdateSession{}] = cache.ByObject{Transform: store.TrimTransform}
	byObject[&v1alpha1.DownloadSession{}] = cache.ByObject{Transform: store.TrimTransform}
	base.ByObject = byObject
	return base
}

// Setup registers the operator's parts with mgr, configured by opts: their unset fields take
// their defaults (see Options.Default), and invalid ones are refused.
func Setup(ctx context.Context, mgr ctrl.Manager, opts Options) error {
	opts.Default()
	if err := opts.Validate(); err != nil {
		return err
	}
	if err := index.Register(ctx, mgr.GetCache()); err != nil {
		return err
	}
	metrics.SessionsByState.SetReader(mgr.GetCache())
	if err := mgr.AddReadyzCheck("cache", cacheSynced(mgr.GetCache())); err != nil {
		return err
	}
	sessions := store.New(mgr.GetClient(), mgr.GetAPIReader(), opts.Clock)
	if err := sessions.Watch(ctx, mgr.GetCache()); err != nil {
		return err
	}
	recorder, err := events.NewRecorder(ctx, mgr.GetConfig(), mgr.GetScheme())
	if err != nil {
		return err
	}
	contents, err := setupContent(ctx, mgr, opts)
	if err != nil {
		return err
	}
	completer := &complete.Completer{Sessions: sessions, Content: contents, Policy: opts.Policy, Clock: opts.Clock}
	reconciler := &controllers.UpdateSessionReconciler{
		Reader:        mgr.GetClient(),
		Store:         sessions,
		Recorder:      recorder,
		Clock:         opts.Clock,
		Policy:        opts.Policy,
		Completer:     completer,
		TransferFresh: transfer.BusyAfter * opts.TransferProgressInterval,
		Content:       contents,
	}
	if err := reconciler.SetupWithManager(mgr, opts.Concurrency); err != nil {
		return err
	}
	downloads := store.NewDownloads(mgr.GetClient(), mgr.GetAPIReader(), opts.Clock)
	if err := downloads.Watch(ctx, mgr.GetCache()); err != nil {
		return err
	}
	downloadReconciler := &controllers.DownloadSessionReconciler{
		Store:     downloads,
		Recorder:  recorder,
		Deletions: reconciler.Deletions,
		Clock:     opts.Clock,
		Policy:    opts.Policy,
		Content:   contents,
	}
	if err := downloadReconciler.SetupWithManager(mgr, opts.Concurrency); err != nil {
		return err
	}
	if opts.RESTAddr == "" {
		return nil
	}
	gate, err := auth.NewGate(mgr.GetConfig(), auth.Options{
		Limits: opts.TokenReviews, Audiences: opts.TokenAudiences, Lifetimes: opts.TokenLifetimes,
	})
	if err != nil {
		return err
	}
	server := &rest.Server{
		Content:            contents,
		Completer:          completer,
		StorageURI:         storageURI(opts.ContentStore),
		MaxFilesPerSession: opts.MaxFilesPerSession,
		MaxFileBytes:       opts.MaxFileBytes,

		Gate:          gate,
		Addr:          opts.RESTAddr,
		CertDir:       opts.RESTCertDir,
		ShutdownDelay: opts.RESTShutdownDelay,
		Connections:   opts.RESTConnections,
		Requests:      opts.RESTRequests,
		Reads:         opts.RESTReads,
		Store:         sessions,
		Downloads:     downloads,
		Clock:         opts.Clock,
		Policy:        opts.Policy,
		Log:           mgr.GetLogger().WithName("rest"),

		DefaultNamespace: opts.RESTNamespace,
		Transfers: rest.Transfers{
			Keys:             transfer.NewKeys(mgr.GetClient(), mgr.GetAPIReader(), opts.TransferKeyNamespace),
			Registry:         transfer.NewRegistry(opts.ContentMaxTransfers),
			ProgressInterval: opts.TransferProgressInterval,
			AdvertiseURL:     opts.RESTAdvertiseURL,
		},
	}
	pulls := rest.NewPulls(server, pullClient(ctx, mgr.GetConfig(), opts))
	server.Pull = pulls
	reconciler.Pulls = pulls
	if err := mgr.Add(pulls.Runnable()); err != nil {
		return err
	}
	if opts.Policy.MaxCoalesce > 0 {
		server.Refresher = refresh.New(sessions, opts.Policy, opts.Clock, mgr.GetLogger().WithName("refresh"))
		if err := mgr.Add(server.Refresher); err != nil {
			return err
		}
	}
	if opts.LoginSessions {
		server.Logins = login.New(mgr.GetClient(), mgr.GetAPIReader(), opts.LoginNamespace, gate, opts.TokenReviews,
			opts.LoginsPerIdentity)
		sweeper := &login.Sweeper{Store: server.Logins, Log: mgr.GetLogger().WithName("login")}
		if err := mgr.Add(sweeper); err != nil {
			return err
		}
	}
	if err := mgr.AddReadyzCheck("rest", server.ReadyCheck); err != nil {
		return err
	}
	return mgr.Add(server)
}

// setupContent opens the content store (or takes opts.Content), and runs its collector on
// the leader.
func setupContent(ctx context.Context, mgr ctrl.Manager, opts Options) (*content.Store, error) {
	contents := opts.Content
	if contents == nil {
		var err error
		if contents, err = openContent(ctx, opts.ContentStore); err != nil {
			return nil, err
		}
	}
	collector := &transfer.Collector{Store: contents, Reader: mgr.GetClient(), Interval: opts.ContentCollectInterval,
		Grace: opts.ContentCollectGrace, Log: mgr.GetLogger().WithName("content")}
	return contents, mgr.Add(collector)
}

// cacheSynced is a readiness check: ready once the manager's cache has synced, so that the REST
// server does not answer from an empty cache.
func cacheSynced(c cache.Cache) healthz.Checker {
	return func(req *http.Request) error {
		ctx, cancel := context.WithTimeout(req.Context(), 100*time.Millisecond)
		defer cancel()
		if !c.WaitForCacheSync(ctx) {
			return errors.New("the cache has not synced")
		}
		return nil
	}
}

// openContent opens the content store, closed when ctx ends.
func openContent(ctx context.Context, storeURL string) (*content.Store, error) {
	s, err := content.Open(ctx, storeURL)
	if err != nil {
		return nil, fmt.Errorf("--content-store: %w", err)
	}
	context.AfterFunc(ctx, func() { _ = s.Close() })
	return s, nil
}

// storageURI is the content store's URL as clients may see it: no credentials, no parameters
// (an S3 endpoint, a region).
func storageURI(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}
