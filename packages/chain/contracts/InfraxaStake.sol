// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Infraxa provider stake, challenger bonds and slashing
/// @notice A provider locks stake under its libp2p peer key (the Ed25519 public key) and the chain account
/// that owns it: one slot per (peer key, owner). Routers count a slot only when the provider's signed
/// capability record names that owner, so the peer key itself vouches for the slot and nobody can take
/// another's (the contract cannot check Ed25519). Withdrawals wait out an unbonding period longer than
/// the fraud window, and a slot with an open accusation cannot be withdrawn. A challenger accuses with a
/// bond and the evidence (the fraud proof's bytes, kept in the event so any adjudicator can re-execute
/// it); registered adjudicators (routers) vote after re-executing the step; `quorum` guilty votes slash
/// the slot — `rewardBps` of the slashed amount to the challenger with its bond, the rest burnt —
/// and `quorum` innocent votes reject it: the challenger's bond is burnt. An accusation nobody decides
/// within `votingSeconds` expires and the bond goes back. Challengers `claim` what they are owed
/// (pull payments: a recipient that refuses ether cannot block a verdict).
contract InfraxaStake {
    struct Slot {
        uint256 amount;
        /// 0 while bonded; else the time the stake may be withdrawn.
        uint64 unlockAt;
        /// Accusations against this slot not yet decided.
        uint32 openAccusations;
    }

    enum Status {
        None,
        Open,
        Upheld,
        Rejected,
        Expired
    }

    struct Accusation {
        bytes32 peerKey;
        address owner;
        address challenger;
        uint256 bond;
        uint64 openedAt;
        Status status;
        uint16 guiltyVotes;
        uint16 innocentVotes;
        bytes32 evidenceHash;
    }

    uint256 public immutable minBond;
    uint64 public immutable unbondingSeconds;
    uint64 public immutable votingSeconds;
    uint16 public immutable quorum;
    /// Share of a slot's stake taken on proven fraud, in basis points (10 000 = all).
    uint16 public immutable slashBps;
    /// Share of the slashed amount paid to the challenger, in basis points; the rest is burnt.
    uint16 public immutable rewardBps;
    uint16 public immutable adjudicatorCount;
    mapping(address => bool) public isAdjudicator;
    /// Everything burnt so far (sent to address(0)).
    uint256 public burnt;
    /// What challengers may `claim` (bonds back, rewards): pulled, so no recipient can block a verdict.
    mapping(address => uint256) public owed;

    mapping(bytes32 => Slot) private slots;
    Accusation[] private accusations;
    mapping(uint256 => mapping(address => bool)) public voted;
    mapping(bytes32 => bool) public evidenceUsed;

    event Staked(bytes32 indexed peerKey, address indexed owner, uint256 amount, uint256 total);
    event UnbondingStarted(bytes32 indexed peerKey, address indexed owner, uint64 unlockAt);
    event Withdrawn(bytes32 indexed peerKey, address indexed owner, uint256 amount);
    event Accused(
        uint256 indexed id, bytes32 indexed peerKey, address indexed owner, address challenger, uint256 bond, bytes evidence
    );
    event Voted(uint256 indexed id, address indexed adjudicator, bool guilty);
    event Slashed(uint256 indexed id, bytes32 indexed peerKey, address indexed owner, uint256 slashed, uint256 reward);
    event AccusationRejected(uint256 indexed id, uint256 bondBurnt);
    event AccusationExpired(uint256 indexed id);
    event Claimed(address indexed to, uint256 amount);

    error InvalidParameters();
    error NothingStaked();
    error StakeUnbonding();
    error NotUnbonding();
    error StillBonded(uint64 unlockAt);
    error AccusationPending(uint32 open);
    error BondTooSmall(uint256 minBond);
    error EvidenceAlreadyUsed();
    error NotAdjudicator();
    error UnknownAccusation();
    error AccusationClosed(Status status);
    error AlreadyVoted();
    error VotingOpen(uint64 until);
    error VotingClosed();
    error NothingOwed();
    error TransferFailed();

    constructor(
        address[] memory adjudicators,
        uint16 quorum_,
        uint256 minBond_,
        uint64 unbondingSeconds_,
        uint64 votingSeconds_,
        uint16 slashBps_,
        uint16 rewardBps_
    ) {
        if (quorum_ == 0 || quorum_ > adjudicators.length || slashBps_ > 10_000 || rewardBps_ > 10_000) {
            revert InvalidParameters();
        }
        // The unbonding period must outlast an accusation's vote, or a cheater withdraws first.
        if (unbondingSeconds_ <= votingSeconds_) revert InvalidParameters();
        uint16 count = 0;
        for (uint256 i = 0; i < adjudicators.length; i++) {
            if (adjudicators[i] == address(0) || isAdjudicator[adjudicators[i]]) revert InvalidParameters();
            isAdjudicator[adjudicators[i]] = true;
            count++;
        }
        adjudicatorCount = count;
        quorum = quorum_;
        minBond = minBond_;
        unbondingSeconds = unbondingSeconds_;
        votingSeconds = votingSeconds_;
        slashBps = slashBps_;
        rewardBps = rewardBps_;
    }

    function slotKey(bytes32 peerKey, address owner) public pure returns (bytes32) {
        return keccak256(abi.encode(peerKey, owner));
    }

    /// @notice The stake of (peer key, owner): amount, unlock time (0 while bonded), open accusations.
    function stakeOf(bytes32 peerKey, address owner) external view returns (uint256, uint64, uint32) {
        Slot storage s = slots[slotKey(peerKey, owner)];
        return (s.amount, s.unlockAt, s.openAccusations);
    }

    /// @notice Adds the value sent to the caller's slot for `peerKey`.
    function stake(bytes32 peerKey) external payable {
        if (msg.value == 0) revert NothingStaked();
        Slot storage s = slots[slotKey(peerKey, msg.sender)];
        if (s.unlockAt != 0) revert StakeUnbonding();
        s.amount += msg.value;
        emit Staked(peerKey, msg.sender, msg.value, s.amount);
    }

    /// @notice Starts the unbonding period of the caller's slot; the stake stops counting for routers.
    function startUnbonding(bytes32 peerKey) external {
        Slot storage s = slots[slotKey(peerKey, msg.sender)];
        if (s.amount == 0) revert NothingStaked();
        if (s.unlockAt != 0) revert StakeUnbonding();
        s.unlockAt = uint64(block.timestamp) + unbondingSeconds;
        emit UnbondingStarted(peerKey, msg.sender, s.unlockAt);
    }

    /// @notice Pays out the caller's unbonded slot.
    function withdraw(bytes32 peerKey) external {
        Slot storage s = slots[slotKey(peerKey, msg.sender)];
        if (s.amount == 0) revert NothingStaked();
        if (s.unlockAt == 0) revert NotUnbonding();
        if (block.timestamp < s.unlockAt) revert StillBonded(s.unlockAt);
        if (s.openAccusations != 0) revert AccusationPending(s.openAccusations);
        uint256 amount = s.amount;
        s.amount = 0;
        s.unlockAt = 0;
        emit Withdrawn(peerKey, msg.sender, amount);
        _pay(msg.sender, amount);
    }

    /// @notice Accuses (peer key, owner) of fraud with a bond; `evidence` is the encoded fraud proof.
    function accuse(bytes32 peerKey, address owner, bytes calldata evidence) external payable returns (uint256 id) {
        if (msg.value < minBond) revert BondTooSmall(minBond);
        Slot storage s = slots[slotKey(peerKey, owner)];
        if (s.amount == 0) revert NothingStaked();
        bytes32 evidenceHash = keccak256(evidence);
        if (evidenceUsed[evidenceHash]) revert EvidenceAlreadyUsed();
        evidenceUsed[evidenceHash] = true;
        s.openAccusations += 1;
        id = accusations.length;
        accusations.push(
            Accusation({
                peerKey: peerKey,
                owner: owner,
                challenger: msg.sender,
                bond: msg.value,
                openedAt: uint64(block.timestamp),
                status: Status.Open,
                guiltyVotes: 0,
                innocentVotes: 0,
                evidenceHash: evidenceHash
            })
        );
        emit Accused(id, peerKey, owner, msg.sender, msg.value, evidence);
    }

    function accusation(uint256 id) external view returns (Accusation memory) {
        if (id >= accusations.length) revert UnknownAccusation();
        return accusations[id];
    }

    function accusationCount() external view returns (uint256) {
        return accusations.length;
    }

    /// @notice An adjudicator's verdict after re-executing the accused step; the quorum-th decides.
    function vote(uint256 id, bool guilty) external {
        if (!isAdjudicator[msg.sender]) revert NotAdjudicator();
        if (id >= accusations.length) revert UnknownAccusation();
        Accusation storage a = accusations[id];
        if (a.status != Status.Open) revert AccusationClosed(a.status);
        if (block.timestamp >= a.openedAt + votingSeconds) revert VotingClosed();
        if (voted[id][msg.sender]) revert AlreadyVoted();
        voted[id][msg.sender] = true;
        emit Voted(id, msg.sender, guilty);
        if (guilty) {
            a.guiltyVotes += 1;
            if (a.guiltyVotes >= quorum) _uphold(id, a);
        } else {
            a.innocentVotes += 1;
            if (a.innocentVotes >= quorum) _reject(id, a);
        }
    }

    /// @notice Closes an accusation nobody decided in time; the bond goes back to the challenger.
    function expire(uint256 id) external {
        if (id >= accusations.length) revert UnknownAccusation();
        Accusation storage a = accusations[id];
        if (a.status != Status.Open) revert AccusationClosed(a.status);
        uint64 until = a.openedAt + votingSeconds;
        if (block.timestamp < until) revert VotingOpen(until);
        a.status = Status.Expired;
        slots[slotKey(a.peerKey, a.owner)].openAccusations -= 1;
        owed[a.challenger] += a.bond;
        emit AccusationExpired(id);
    }

    /// @notice Pays out the caller's bonds and rewards.
    function claim() external {
        uint256 amount = owed[msg.sender];
        if (amount == 0) revert NothingOwed();
        owed[msg.sender] = 0;
        emit Claimed(msg.sender, amount);
        _pay(msg.sender, amount);
    }

    function _uphold(uint256 id, Accusation storage a) private {
        a.status = Status.Upheld;
        Slot storage s = slots[slotKey(a.peerKey, a.owner)];
        s.openAccusations -= 1;
        uint256 slashed = (s.amount * slashBps) / 10_000;
        uint256 reward = (slashed * rewardBps) / 10_000;
        s.amount -= slashed;
        burnt += slashed - reward;
        owed[a.challenger] += a.bond + reward;
        emit Slashed(id, a.peerKey, a.owner, slashed, reward);
        _pay(address(0), slashed - reward);
    }

    function _reject(uint256 id, Accusation storage a) private {
        a.status = Status.Rejected;
        slots[slotKey(a.peerKey, a.owner)].openAccusations -= 1;
        burnt += a.bond;
        emit AccusationRejected(id, a.bond);
        _pay(address(0), a.bond);
    }

    function _pay(address to, uint256 amount) private {
        if (amount == 0) return;
        (bool ok,) = payable(to).call{value: amount}("");
        if (!ok) revert TransferFailed();
    }
}
