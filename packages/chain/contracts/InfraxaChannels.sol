// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Infraxa pay-per-token channels
/// @notice Unidirectional payment channels from a payer (a client, or a router on its behalf) to a payee
/// (a provider's chain account). The payer deposits once, then signs a cumulative voucher after each
/// verified answer — EIP-712 `Voucher(bytes32 channel, uint256 amount)`, the total owed so far — off
/// chain. The payee closes the channel with the latest voucher: it receives `amount`, the payer the rest.
/// If the payee never closes, the payer reclaims the whole deposit after `expiresAt`; the payee must close
/// before then. The payer's change from a close is claimed (`claim`), never pushed. A voucher is only as good as the payer's signature: a forged or altered one is refused.
contract InfraxaChannels {
    struct Channel {
        address payer;
        address payee;
        uint256 deposit;
        uint64 expiresAt;
        bool closed;
    }

    bytes32 private constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 private constant VOUCHER_TYPEHASH = keccak256("Voucher(bytes32 channel,uint256 amount)");
    /// secp256k1n / 2: a larger s is the malleable twin of a valid signature.
    uint256 private constant HALF_ORDER = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;

    mapping(bytes32 => Channel) private channels;
    mapping(address => uint256) public nonces;
    /// Refunds payers may `claim` (pulled: a payer that refuses ether cannot block the payee's close).
    mapping(address => uint256) public owed;

    event Opened(bytes32 indexed id, address indexed payer, address indexed payee, uint256 deposit, uint64 expiresAt);
    event ToppedUp(bytes32 indexed id, uint256 deposit);
    event Closed(bytes32 indexed id, uint256 paid, uint256 refunded);
    event Reclaimed(bytes32 indexed id, uint256 refunded);

    error InvalidParameters();
    error UnknownChannel();
    error ChannelClosed();
    error NotPayee();
    error NotPayer();
    error InvalidVoucher();
    error AmountAboveDeposit(uint256 deposit);
    error ChannelExpired(uint64 expiresAt);
    error NotExpired(uint64 expiresAt);
    error NothingOwed();
    error TransferFailed();

    function domainSeparator() public view returns (bytes32) {
        return keccak256(
            abi.encode(DOMAIN_TYPEHASH, keccak256("InfraxaChannels"), keccak256("1"), block.chainid, address(this))
        );
    }

    /// @notice Opens a channel to `payee` with the value sent, reclaimable by the payer after `duration`.
    function open(address payee, uint64 duration) external payable returns (bytes32 id) {
        if (payee == address(0) || payee == msg.sender || msg.value == 0 || duration == 0) revert InvalidParameters();
        id = keccak256(abi.encode(msg.sender, payee, nonces[msg.sender]++));
        uint64 expiresAt = uint64(block.timestamp) + duration;
        channels[id] = Channel({payer: msg.sender, payee: payee, deposit: msg.value, expiresAt: expiresAt, closed: false});
        emit Opened(id, msg.sender, payee, msg.value, expiresAt);
    }

    /// @notice Adds the value sent to an open channel's deposit.
    function topUp(bytes32 id) external payable {
        Channel storage c = _open(id);
        if (msg.sender != c.payer) revert NotPayer();
        c.deposit += msg.value;
        emit ToppedUp(id, c.deposit);
    }

    function channel(bytes32 id) external view returns (Channel memory) {
        if (channels[id].payer == address(0)) revert UnknownChannel();
        return channels[id];
    }

    /// @notice Whether `signature` is the payer's voucher for `amount` on channel `id`.
    function voucherValid(bytes32 id, uint256 amount, bytes calldata signature) public view returns (bool) {
        Channel storage c = channels[id];
        if (c.payer == address(0)) return false;
        return _signer(id, amount, signature) == c.payer;
    }

    /// @notice The payee redeems the latest voucher: `amount` to the payee, the rest back to the payer.
    function close(bytes32 id, uint256 amount, bytes calldata signature) external {
        Channel storage c = _open(id);
        if (msg.sender != c.payee) revert NotPayee();
        if (block.timestamp >= c.expiresAt) revert ChannelExpired(c.expiresAt);
        if (amount > c.deposit) revert AmountAboveDeposit(c.deposit);
        if (_signer(id, amount, signature) != c.payer) revert InvalidVoucher();
        c.closed = true;
        uint256 refund = c.deposit - amount;
        owed[c.payer] += refund;
        emit Closed(id, amount, refund);
        _pay(c.payee, amount);
    }

    /// @notice Pays the caller its refunds from closed channels.
    function claim() external {
        uint256 amount = owed[msg.sender];
        if (amount == 0) revert NothingOwed();
        owed[msg.sender] = 0;
        _pay(msg.sender, amount);
    }

    /// @notice After expiry, the payer takes back a deposit the payee never claimed.
    function reclaim(bytes32 id) external {
        Channel storage c = _open(id);
        if (msg.sender != c.payer) revert NotPayer();
        if (block.timestamp < c.expiresAt) revert NotExpired(c.expiresAt);
        c.closed = true;
        emit Reclaimed(id, c.deposit);
        _pay(c.payer, c.deposit);
    }

    function _open(bytes32 id) private view returns (Channel storage c) {
        c = channels[id];
        if (c.payer == address(0)) revert UnknownChannel();
        if (c.closed) revert ChannelClosed();
    }

    function _signer(bytes32 id, uint256 amount, bytes calldata signature) private view returns (address) {
        if (signature.length != 65) return address(0);
        bytes32 r = bytes32(signature[0:32]);
        bytes32 s = bytes32(signature[32:64]);
        uint8 v = uint8(signature[64]);
        if (uint256(s) > HALF_ORDER || (v != 27 && v != 28)) return address(0);
        bytes32 digest = keccak256(
            abi.encodePacked("\x19\x01", domainSeparator(), keccak256(abi.encode(VOUCHER_TYPEHASH, id, amount)))
        );
        return ecrecover(digest, v, r, s);
    }

    function _pay(address to, uint256 amount) private {
        if (amount == 0) return;
        (bool ok,) = payable(to).call{value: amount}("");
        if (!ok) revert TransferFailed();
    }
}
