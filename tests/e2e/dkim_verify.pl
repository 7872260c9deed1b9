#!/usr/bin/perl
# dkim_verify.pl PORT [arc] - a second, independent verifier for
# test_signing.py: Mail::DKIM (Debian's libmail-dkim-perl, another
# implementation than dkimpy's) checks the message on standard input,
# looking keys up at the test's DNS server on 127.0.0.1:PORT. Prints one
# line per DKIM-Signature, "ALGORITHM DOMAIN SELECTOR RESULT (DETAIL)", or
# with "arc" the ARC chain's "RESULT (DETAIL)". Mail::DKIM 1.20230212 knows
# rsa-sha256 but not ed25519-sha256 (RFC 8463): those say "invalid".
use strict;
use warnings;
use Mail::DKIM::ARC::Verifier;
use Mail::DKIM::DNS;
use Mail::DKIM::Verifier;
use Net::DNS::Resolver;

my ($port, $mode) = @ARGV;
die "usage: dkim_verify.pl PORT [arc]\n" unless defined $port && $port =~ /^\d+$/;
Mail::DKIM::DNS::resolver(Net::DNS::Resolver->new(
	nameservers => ['127.0.0.1'], port => $port, recurse => 0,
	udp_timeout => 5, tcp_timeout => 5, retry => 2));
binmode STDIN;
my $msg = do { local $/; <STDIN> };
$msg =~ s/\r?\n/\r\n/g;
my $v = defined $mode && $mode eq 'arc' ? Mail::DKIM::ARC::Verifier->new : Mail::DKIM::Verifier->new;
$v->PRINT($msg);
$v->CLOSE;
if (defined $mode && $mode eq 'arc') {
	printf "%s (%s)\n", $v->result, $v->result_detail // '';
	exit 0;
}
for my $s ($v->signatures) {
	printf "%s %s %s %s (%s)\n", $s->algorithm // '?', $s->domain // '?', $s->selector // '?',
		$s->result // '?', $s->result_detail // '';
}
