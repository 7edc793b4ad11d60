# Shared rules for an example app: set APP (the program, built from APP.c) and
# include this file. Builds the bundle in bundle/: the program (static when
# possible, so the bundle needs nothing from the host) and cella-app.json. Only
# bundle/ is measured: sources and READMEs beside it are not part of the app.
CC ?= cc
CFLAGS ?= -std=c17 -O2 -Wall -Wextra -Werror
CELLA ?= ../../build/cella

all: bundle

bundle: bundle/$(APP) bundle/cella-app.json

bundle/$(APP): $(APP).c
	mkdir -p bundle
	$(CC) $(CFLAGS) -static -o $@ $< 2>/dev/null || $(CC) $(CFLAGS) -o $@ $<

bundle/cella-app.json: cella-app.json
	mkdir -p bundle
	cp $< $@

measure: bundle
	$(CELLA) app measure bundle

pack: bundle
	$(CELLA) app pack bundle -o $(APP)-app.tar

clean:
	rm -rf bundle $(APP)-app.tar

.PHONY: all bundle measure pack clean
