#!/bin/sh
# What mod_auth_mellon put in the environment of a protected page: one NAME=value per line.
printf 'Content-Type: text/plain; charset=utf-8\r\n\r\n'
env | grep -E '^(REMOTE_USER|MELLON_)' | sort
