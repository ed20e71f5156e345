"""The cluster's certificates and keys, made once per cluster with `cryptography`, as kubeadm lays them out.

One CA signs every serving and client certificate. Each component authenticates
as the user (CN) and groups (O) that Kubernetes' default RBAC bindings expect,
so the API server's real authorizers decide what each may do:

    admin                   kubernetes-admin, system:masters  (the kubeconfig users and tests get)
    kube-controller-manager system:kube-controller-manager
    kube-scheduler          system:kube-scheduler
    kubelet                 system:node:<node>, system:nodes   (the Node authorizer and NodeRestriction)
    kube-proxy              system:kube-proxy
    kube-router             system:kube-router                 (NetworkPolicy enforcement; cluster/addons.py binds it)
    apiserver-kubelet       the API server calling kubelets (logs, exec), system:masters

plus the API server's and the kubelet's serving certificates and the key pair
that signs service-account tokens.
"""
from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALID_FOR = datetime.timedelta(days=365)


@dataclass(frozen=True)
class Identity:
    """A certificate to make: its file stem, subject, and what it may be used for."""

    name: str
    common_name: str
    groups: tuple[str, ...] = ()
    server_names: tuple[str, ...] = ()  # DNS names and IP addresses; a serving certificate when given
    client: bool = True


def identities(node: str, node_ip: str, api_service_ip: str, cluster_domain: str) -> list[Identity]:
    api_names = ("kubernetes", "kubernetes.default", "kubernetes.default.svc", f"kubernetes.default.svc.{cluster_domain}",
                 "localhost", "127.0.0.1", node_ip, api_service_ip)
    return [
        Identity("apiserver", "kube-apiserver", server_names=api_names, client=False),
        Identity("apiserver-kubelet-client", "kube-apiserver-kubelet-client", ("system:masters",)),
        Identity("admin", "kubernetes-admin", ("system:masters",)),
        Identity("controller-manager", "system:kube-controller-manager"),
        Identity("scheduler", "system:kube-scheduler"),
        Identity("kubelet", f"system:node:{node}", ("system:nodes",)),
        Identity("kubelet-serving", f"system:node:{node}", server_names=(node, node_ip, "127.0.0.1"), client=False),
        Identity("kube-proxy", "system:kube-proxy"),
        Identity("kube-router", "system:kube-router"),
    ]


def ensure(folder: Path, node: str, node_ip: str, api_service_ip: str, cluster_domain: str) -> None:
    """Write the CA, every identity's certificate and key, and the service-account keys, unless already there."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    if (folder / "ca.crt").exists():
        return
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hubml-test-cluster-ca")])
    now = datetime.datetime.now(datetime.timezone.utc)
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + VALID_FOR)
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    for identity in identities(node, node_ip, api_service_ip, cluster_domain):
        key = ec.generate_private_key(ec.SECP256R1())
        _write_key(folder / f"{identity.name}.key", key)
        (folder / f"{identity.name}.crt").write_bytes(_sign(identity, key, ca, ca_key, now)
                                                      .public_bytes(serialization.Encoding.PEM))
    service_accounts = ec.generate_private_key(ec.SECP256R1())
    _write_key(folder / "service-accounts.key", service_accounts)
    (folder / "service-accounts.pub").write_bytes(service_accounts.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    _write_key(folder / "ca.key", ca_key)
    # Last: its presence means the folder is complete.
    (folder / "ca.crt").write_bytes(ca.public_bytes(serialization.Encoding.PEM))


def _sign(identity: Identity, key: ec.EllipticCurvePrivateKey, ca: x509.Certificate,
          ca_key: ec.EllipticCurvePrivateKey, now: datetime.datetime) -> x509.Certificate:
    subject = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, group) for group in identity.groups]
    subject.append(x509.NameAttribute(NameOID.COMMON_NAME, identity.common_name))
    usages = [ExtendedKeyUsageOID.CLIENT_AUTH] if identity.client else [ExtendedKeyUsageOID.SERVER_AUTH]
    builder = (x509.CertificateBuilder().subject_name(x509.Name(subject)).issuer_name(ca.subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + VALID_FOR)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.ExtendedKeyUsage(usages), critical=False))
    if identity.server_names:
        builder = builder.add_extension(x509.SubjectAlternativeName([_general_name(n) for n in identity.server_names]),
                                        critical=False)
    return builder.sign(ca_key, hashes.SHA256())


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    path.chmod(0o600)
